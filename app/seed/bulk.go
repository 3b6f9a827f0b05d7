package seed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// BulkOptions describe a bulk load.
type BulkOptions struct {
	WorkspaceID             int64 // 0: the first workspace
	Conversations           int   // N, > 0
	MessagesPerConversation int   // M, > 0
	Batch                   int   // conversations per transaction; default 10,000
	Workers                 int   // parallel writers on PostgreSQL; default 2 (SQLite: always 1)
	Seed                    uint64
	Now                     time.Time // conversations end within the 90 days before it; default now
}

// BulkResult is what a bulk load wrote.
type BulkResult struct {
	WorkspaceID                        int64
	Conversations, Messages, Variables int64
	Elapsed                            time.Duration // the load, without the final ANALYZE
}

// Rows is every row written.
func (r BulkResult) Rows() int64 { return r.Conversations + r.Messages + r.Variables }

// RowsPerSecond is the load's throughput.
func (r BulkResult) RowsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Rows()) / r.Elapsed.Seconds()
}

func (r BulkResult) String() string {
	return fmt.Sprintf("loaded %d conversations, %d messages and %d variables into workspace %d: %d rows in %s (%.0f rows/s)",
		r.Conversations, r.Messages, r.Variables, r.WorkspaceID, r.Rows(), r.Elapsed.Round(time.Millisecond), r.RowsPerSecond())
}

// Bulk loads opts.Conversations conversations of opts.MessagesPerConversation messages each,
// in batches of one transaction each, writing progress lines to progress.
func Bulk(ctx context.Context, s *store.Store, opts BulkOptions, progress io.Writer) (BulkResult, error) {
	if opts.Conversations <= 0 || opts.MessagesPerConversation <= 0 {
		return BulkResult{}, errors.New("bulk: conversations and messages per conversation must be positive")
	}
	if opts.Batch <= 0 {
		opts.Batch = 10000
	}
	if opts.Batch > opts.Conversations {
		opts.Batch = opts.Conversations
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if s.Dialect != store.Postgres {
		opts.Workers = 1
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if progress == nil {
		progress = io.Discard
	}
	var ws *store.Workspace
	var err error
	if opts.WorkspaceID > 0 {
		ws, err = s.WorkspaceByID(ctx, opts.WorkspaceID)
	} else {
		ws, err = s.FirstWorkspace(ctx)
	}
	if errors.Is(err, store.ErrNotFound) {
		return BulkResult{}, errors.New("bulk: the workspace does not exist")
	}
	if err != nil {
		return BulkResult{}, err
	}
	assistants, err := bulkAssistants(ctx, s, ws.ID)
	if err != nil {
		return BulkResult{}, err
	}
	g := &generator{workspaceID: ws.ID, assistants: assistants, m: opts.MessagesPerConversation,
		seed: opts.Seed, now: opts.Now.UTC().Truncate(time.Microsecond)}

	res := BulkResult{WorkspaceID: ws.ID}
	start := time.Now()
	var mu sync.Mutex
	report := func(b *batch) {
		mu.Lock()
		defer mu.Unlock()
		res.Conversations += int64(len(b.Convs))
		res.Messages += int64(len(b.Msgs))
		res.Variables += int64(len(b.Vars))
		el := time.Since(start)
		fmt.Fprintf(progress, "%d/%d conversations, %d messages, %d variables (%.1f s, %.0f rows/s)\n",
			res.Conversations, opts.Conversations, res.Messages, res.Variables, el.Seconds(),
			float64(res.Rows())/el.Seconds())
	}
	nBatches := (opts.Conversations + opts.Batch - 1) / opts.Batch
	batchSize := func(i int) int { return min(opts.Batch, opts.Conversations-i*opts.Batch) }

	if s.Dialect == store.Postgres {
		convBase, msgBase, err := s.ReserveBulkIDs(ctx, int64(opts.Conversations), int64(opts.Conversations)*int64(opts.MessagesPerConversation))
		if err != nil {
			return res, fmt.Errorf("bulk: reserve ids: %w", err)
		}
		jobs := make(chan int)
		eg, ectx := errgroup.WithContext(ctx)
		eg.Go(func() error {
			defer close(jobs)
			for i := 0; i < nBatches; i++ {
				select {
				case jobs <- i:
				case <-ectx.Done():
					return nil
				}
			}
			return nil
		})
		for w := 0; w < opts.Workers; w++ {
			eg.Go(func() error {
				b := new(batch)
				for i := range jobs {
					first := i * opts.Batch
					g.fill(b, i, first, batchSize(i), convBase+int64(first), msgBase+int64(first)*int64(g.m))
					if err := s.WriteBulkPG(ectx, b); err != nil {
						return fmt.Errorf("bulk: batch %d: %w", i+1, err)
					}
					report(b)
				}
				return nil
			})
		}
		err = eg.Wait()
		res.Elapsed = time.Since(start)
		if err != nil {
			return res, err
		}
		fmt.Fprintln(progress, "merging the search index's pending list and analyzing the tables...")
		mergeErr, analyzeErr := s.FinishBulkPG(ctx)
		if mergeErr != nil {
			fmt.Fprintf(progress, "could not merge the search index's pending list (VACUUM messages will): %v\n", mergeErr)
		}
		if analyzeErr != nil {
			return res, fmt.Errorf("bulk: analyze: %w", analyzeErr)
		}
		return res, nil
	}

	b := new(batch)
	for i := 0; i < nBatches; i++ {
		first := i * opts.Batch
		err := s.WriteBulkSQLite(ctx, func(convBase, msgBase int64) *batch {
			g.fill(b, i, first, batchSize(i), convBase, msgBase)
			return b
		})
		if err != nil {
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("bulk: batch %d: %w", i+1, err)
		}
		report(b)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// bulkAssistants returns the workspace's assistant ids, creating two when it has none.
func bulkAssistants(ctx context.Context, s *store.Store, workspaceID int64) ([]int64, error) {
	as, err := s.Assistants(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	for i := len(ids); i < 2; i++ {
		a := &store.Assistant{WorkspaceID: workspaceID, Name: fmt.Sprintf("Benchmark assistant %c", 'A'+i),
			Model: DemoModel, Temperature: 0.3, SystemPrompt: "You answer questions about orders, prices and bookings."}
		if err := s.CreateAssistant(ctx, a); err != nil {
			return nil, err
		}
		ids = append(ids, a.ID)
	}
	return ids, nil
}

// batch is one batch of generated rows (the store writes it).
type batch = store.BulkBatch

type generator struct {
	workspaceID int64
	assistants  []int64
	m           int
	seed        uint64
	now         time.Time
}

var (
	bulkProducts = []string{"starter plan", "pro plan", "business plan", "espresso machine", "teapot", "running shoes",
		"yoga mat", "desk lamp", "backpack", "headphones", "gift card", "winter jacket"}
	bulkCities = []string{"Berlin", "Hamburg", "Munich", "London", "Paris", "Madrid", "Amsterdam", "Vienna", "Zurich",
		"Lisbon", "Dublin", "Prague", "Warsaw", "Rome", "Oslo", "Copenhagen", "Stockholm", "Brussels", "Milan", "Barcelona"}
	bulkDays  = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	bulkFirst = []string{"Anna", "Lukas", "Sophie", "Jonas", "Mia", "Olivia", "James", "Emily", "Michael", "Sarah",
		"David", "Camille", "Hugo", "Lucia", "Pablo", "Sanne", "Giulia", "Marco", "Priya", "Ahmed", "Nora", "Tom"}
	bulkLast = []string{"Schmidt", "Weber", "Becker", "Bennett", "Carter", "Hughes", "Miller", "Nguyen", "Martin",
		"Garcia", "Jansen", "Rossi", "Sharma", "Hassan", "Lindqvist", "Novak", "Kowalski", "Murphy"}
	bulkUser = []string{
		"Hi, what does the {product} cost?",
		"Where is my order {order}?",
		"Can I book a table for {n} people on {day}?",
		"Do you deliver to {city}?",
		"I want a refund for the {product}, it arrived broken.",
		"Is the {product} in stock in {city}?",
		"How long does delivery to {city} take?",
		"Can I change my booking to {day}?",
		"Thanks, that helps a lot.",
		"Do you have a discount code for the {product}?",
		"My payment failed, can you check order {order}?",
		"What are your opening hours on {day}?",
		"I need an invoice for order {order}.",
		"Can I pick up the {product} in {city} on {day}?",
		"Is there a cheaper option than the {product}?",
	}
	bulkBot = []string{
		"The {product} is {price}, VAT excluded.",
		"Order {order} was shipped on {day} and should arrive within 3 days.",
		"Your booking for {n} people on {day} is confirmed.",
		"Yes, we deliver to {city}; delivery takes 2-4 business days.",
		"I am sorry about that. I have started a refund for the {product}.",
		"We are open on {day} from 9:00 to 18:00.",
		"I have sent the invoice for order {order} to your email.",
		"You can pick it up at our {city} store from {day}.",
		"Of course. Is there anything else I can help with?",
		"The {product} is in stock and ships today.",
	}
)

const (
	bulkRare   = "Do you also ship to Zanzibar? I am moving there next month."
	bulkRarish = "Is the Kilimanjaro hiking backpack available in green?"
)

// fill generates batch index (conversations first..first+n-1 of the run, ids from convBase
// and msgBase) into b, reusing its slices. The content depends only on the seed and the
// ordinals; the customers include the ids, so WhatsApp threads stay unique across runs.
func (g *generator) fill(b *batch, index, first, n int, convBase, msgBase int64) {
	r := rand.New(rand.NewPCG(g.seed, uint64(index)+1))
	t := time.Now().UTC().Truncate(time.Microsecond)
	b.Convs = b.Convs[:0]
	b.Msgs = b.Msgs[:0]
	b.Vars = b.Vars[:0]
	b.ByType = map[string]int64{}
	fillText := func(tpl string) string {
		if !strings.Contains(tpl, "{") {
			return tpl
		}
		return strings.NewReplacer(
			"{product}", bulkProducts[r.IntN(len(bulkProducts))],
			"{city}", bulkCities[r.IntN(len(bulkCities))],
			"{day}", bulkDays[r.IntN(len(bulkDays))],
			"{order}", "PO-"+strconv.Itoa(100000+r.IntN(900000)),
			"{n}", strconv.Itoa(2+r.IntN(7)),
			"{price}", "$"+strconv.Itoa(9+10*r.IntN(20)),
		).Replace(tpl)
	}
	for i := 0; i < n; i++ {
		k := first + i
		id := convBase + int64(i)
		c := store.Conversation{ID: id, WorkspaceID: g.workspaceID, AIEnabled: true, CreatedAt: t, UpdatedAt: t}
		asst := g.assistants[r.IntN(len(g.assistants))]
		c.AssistantID = &asst
		switch x := r.IntN(10); {
		case x < 2:
			c.Type = model.TypeTest
			c.Customer = fmt.Sprintf("test_%08x", uint32(mix(uint64(id))))
		case x < 6:
			c.Type = model.TypeWidget
			c.Customer = fmt.Sprintf("sess_%012x", mix(uint64(id))&0xffffffffffff)
		default:
			c.Type = model.TypeWhatsApp
			c.Customer = []string{"+4915", "+4917", "+447", "+1415", "+3361", "+3462", "+3161"}[r.IntN(7)] + fmt.Sprintf("%09d", id%1_000_000_000)
		}
		c.Charged = c.Type != model.TypeTest
		fn, ln := bulkFirst[r.IntN(len(bulkFirst))], bulkLast[r.IntN(len(bulkLast))]
		if c.Type == model.TypeWhatsApp || r.IntN(10) < 4 {
			c.CustomerName = fn + " " + ln
		}
		// Variables: email (30%) and order number (10%).
		vars := map[string]string{}
		emailAt, orderAt := -1, -1
		if r.IntN(10) < 3 {
			vars["email"] = strings.ToLower(fn+"."+ln) + strconv.Itoa(k) + "@example.com"
			emailAt = min(2, (g.m-1)/2*2) // a user message: index 0 or 2
		}
		if r.IntN(10) == 0 {
			vars["order_number"] = "PO-" + strconv.Itoa(100000+r.IntN(900000))
			orderAt = 0
		}

		// Times: the conversation ends at a random time within the last 90 days.
		gaps := make([]time.Duration, g.m)
		var total time.Duration
		for j := 1; j < g.m; j++ {
			if j%2 == 1 {
				gaps[j] = between(r, time.Second, 20*time.Second)
			} else {
				gaps[j] = between(r, 20*time.Second, 10*time.Minute)
			}
			total += gaps[j]
		}
		end := g.now.Add(-between(r, time.Minute, 90*24*time.Hour-time.Hour))
		at := end.Add(-total).Truncate(time.Microsecond)
		c.StartedAt = at

		firstMsg := len(b.Msgs)
		var lastInbound time.Time
		for j := 0; j < g.m; j++ {
			at = at.Add(gaps[j])
			m := store.Message{ID: msgBase + int64(i*g.m+j), WorkspaceID: g.workspaceID, ConversationID: id,
				ContentType: "text", CreatedAt: at}
			if j%2 == 0 {
				m.Role = model.RoleUser
				switch {
				case j == 0 && k%1000 == 0:
					m.Content = bulkRare
				case j == 0 && k%100 == 1:
					m.Content = bulkRarish
				default:
					m.Content = fillText(bulkUser[r.IntN(len(bulkUser))])
				}
				if j == orderAt {
					m.Content += " My order number is " + vars["order_number"] + "."
				}
				if j == emailAt {
					m.Content += " My email is " + vars["email"] + "."
				}
				c.UserMessageCount++
				lastInbound = m.CreatedAt
			} else {
				m.Role = model.RoleAssistant
				m.Content = fillText(bulkBot[r.IntN(len(bulkBot))])
				if r.IntN(20) == 0 { // a few long answers
					m.Content += " " + fillText(bulkBot[r.IntN(len(bulkBot))]) + " " + fillText(bulkBot[r.IntN(len(bulkBot))])
				}
				m.PromptTokens = 300 + 40*j + r.IntN(50)
				m.CompletionTokens = 20 + r.IntN(180)
				m.CostNanos = Cost(m.PromptTokens, m.CompletionTokens)
				if c.Type == model.TypeWhatsApp {
					m.Status = "read"
					if j >= g.m-2 && r.IntN(2) == 0 {
						m.Status = "delivered"
					}
					su := m.CreatedAt.Add(time.Duration(1+r.IntN(60)) * time.Second)
					m.StatusUpdatedAt = &su
				}
			}
			if c.Type == model.TypeWhatsApp {
				pid := "wamid.bulk." + strconv.FormatInt(m.ID, 10)
				m.ProviderMessageID = &pid
			}
			c.MessageCount++
			c.PromptTokens += int64(m.PromptTokens)
			c.CompletionTokens += int64(m.CompletionTokens)
			c.CostNanos += m.CostNanos
			b.Msgs = append(b.Msgs, m)
		}
		lastMsg := &b.Msgs[len(b.Msgs)-1]
		c.LastMessageAt = lastMsg.CreatedAt
		c.LastMessagePreview = store.Preview(lastMsg.Content)
		c.LastMessageRole = lastMsg.Role
		c.LastInboundAt = &lastInbound // message 0 is always the user's
		if c.Type == model.TypeWhatsApp {
			exp := lastInbound.Add(24 * time.Hour)
			c.WindowExpiresAt = &exp
			if exp.Before(g.now) && r.IntN(2) == 0 {
				closed := exp.Add(time.Duration(1+r.IntN(600)) * time.Second)
				c.WindowClosedAt = &closed
			}
		}
		c.Variables = "{}"
		if len(vars) > 0 {
			raw, _ := json.Marshal(vars)
			c.Variables = string(raw)
			names := make([]string, 0, len(vars))
			for name := range vars {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				v := store.ConversationVariable{WorkspaceID: g.workspaceID, ConversationID: id, Name: name,
					Value: vars[name], Source: "extracted", CreatedAt: t, UpdatedAt: t}
				at := emailAt
				if name == "order_number" {
					at = orderAt
				}
				if c.Type == model.TypeWidget && name == "email" {
					v.Source = "prechat" // the widget's pre-chat form
				} else {
					mid := b.Msgs[firstMsg+at].ID
					v.MessageID = &mid
				}
				b.Vars = append(b.Vars, v)
			}
		}
		b.ByType[c.Type]++
		b.Convs = append(b.Convs, c)
	}
}

// mix is splitmix64's finaliser: a bijection, so distinct ids give distinct customers.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
