package seed

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
)

// Demo numbers.
const (
	demoTest     = 14
	demoWidget   = 24
	demoWhatsApp = 22
	// DemoConversations is how many conversations Demo creates.
	DemoConversations = demoTest + demoWidget + demoWhatsApp
)

// Demo fills the workspace with two assistants and DemoConversations conversations of all
// three types spread over the 90 days before now. It returns created=false, adding nothing,
// when the workspace has the demo data already. A run that fails half way leaves the demo
// assistants behind: delete them (their conversations stay) to seed again.
func Demo(ctx context.Context, s *store.Store, workspaceID int64, now time.Time) (created bool, err error) {
	salesKey, supportKey := DemoPublicKeys(workspaceID)
	n, err := s.CountAssistantsWithPublicKeys(ctx, workspaceID, []string{salesKey, supportKey})
	if err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	sales := &store.Assistant{
		WorkspaceID: workspaceID,
		Name:        "Sales assistant",
		SystemPrompt: "You are the friendly sales assistant of Parley. Answer questions about plans, prices, " +
			"discounts and trials in two or three short sentences, and offer to book a demo. Collect the " +
			"visitor's name, email, phone number and company when they share them.",
		FirstMessage: "Hi! 👋 Questions about plans or pricing? I'm happy to help.",
		Model:        DemoModel,
		Temperature:  0.4,
		Variables: demoVariables(
			"name", "the visitor's full name",
			"email", "the visitor's email address",
			"phone", "a phone number in E.164 format",
			"company", "the company the visitor works for"),
		PrechatFields: []model.PrechatField{
			{Name: "name", Label: "Your name", Type: "text", Required: true},
			{Name: "email", Label: "Your email", Type: "email", Required: true},
		},
		AllowedOrigins: []string{"https://www.example.com"},
		WidgetSettings: demoWidgetLook("Talk to sales", "#4f46e5"),
		PublicKey:      salesKey,
	}
	support := &store.Assistant{
		WorkspaceID: workspaceID,
		Name:        "Support assistant",
		SystemPrompt: "You are the customer support assistant of an online shop. Help with orders, deliveries, " +
			"returns and refunds. Always ask for the order number (it starts with PO-) before looking an order up.",
		FirstMessage: "Hello! I can help with orders, deliveries and returns.",
		Model:        DemoModel,
		Temperature:  0.2,
		Variables: demoVariables(
			"order_number", "the order number, like PO-123456",
			"email", "the email address on the order"),
		PrechatFields:  []model.PrechatField{},
		AllowedOrigins: []string{"https://shop.example.com"},
		WidgetSettings: demoWidgetLook("Customer support", "#059669"),
		PublicKey:      supportKey,
	}
	for _, a := range []*store.Assistant{sales, support} {
		if err := s.CreateAssistant(ctx, a); err != nil {
			if store.IsUniqueViolation(err) {
				return false, nil // a concurrent run got there first
			}
			return false, err
		}
	}
	prices := usage.Default()
	for _, c := range planDemo(workspaceID, sales.ID, support.ID, now) {
		if err := writeDemoConversation(ctx, s, prices, c); err != nil {
			return true, fmt.Errorf("demo conversation: %w", err)
		}
	}
	// The daily rollups behind Analytics: the ledger rows tallied, and the activity figures of
	// the whole demo range (the worker refreshes only the last days by itself).
	for {
		res, err := s.TallyUsage(ctx, store.TallyOptions{Batch: 500})
		if err != nil {
			return true, fmt.Errorf("demo usage tally: %w", err)
		}
		if res.Rows == 0 {
			break
		}
	}
	if _, err := s.RefreshActivityRollups(ctx, workspaceID, store.Day(now.AddDate(0, 0, -demoDays-1)), store.Day(now.AddDate(0, 0, 2))); err != nil {
		return true, fmt.Errorf("demo activity rollups: %w", err)
	}
	return true, nil
}

// ---- demo plan ----

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func randHex(r *rand.Rand, n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[r.IntN(16)]
	}
	return string(b)
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// planDemo builds the demo conversations in memory: deterministic for a given now.
func planDemo(workspaceID, salesID, supportID int64, now time.Time) []demoConversation {
	r := rand.New(rand.NewPCG(20261125, 42))
	now = now.UTC().Truncate(time.Microsecond)
	var types []string
	for i := 0; i < demoTest; i++ {
		types = append(types, model.TypeTest)
	}
	for i := 0; i < demoWidget; i++ {
		types = append(types, model.TypeWidget)
	}
	for i := 0; i < demoWhatsApp; i++ {
		types = append(types, model.TypeWhatsApp)
	}
	usedPhones := map[string]bool{}
	var out []demoConversation
	waIndex := 0
	for ci, typ := range types {
		p := personas[r.IntN(len(personas))]
		isSales := r.IntN(100) < 55
		var c demoConversation
		c.conv = store.Conversation{WorkspaceID: workspaceID, Type: typ, Charged: typ != model.TypeTest, AIEnabled: true}
		asst := supportID
		if isSales {
			asst = salesID
		}
		c.conv.AssistantID = &asst

		f := phoneFormats[p.country]
		phone := f.prefix + digits(r, f.digits)
		for usedPhones[phone] {
			phone = f.prefix + digits(r, f.digits)
		}
		usedPhones[phone] = true
		c.values = map[string]string{
			"name":         p.first + " " + p.last,
			"company":      p.company,
			"email":        asciiEmail(strings.ToLower(p.first+"."+strings.ReplaceAll(p.last, " ", ""))) + "@" + p.domain,
			"phone":        phone,
			"order_number": "PO-" + strconv.Itoa(300000+r.IntN(600000)),
		}

		switch typ {
		case model.TypeTest:
			c.conv.Customer = "test_" + randHex(r, 8)
		case model.TypeWidget:
			c.conv.Customer = "sess_" + randHex(r, 12)
			if isSales { // the sales widget has a pre-chat form: name and email
				c.prechat = []string{"name", "email"}
				c.conv.CustomerName = c.values["name"]
			}
		case model.TypeWhatsApp:
			c.conv.Customer = phone
			c.conv.CustomerName = p.first + " " + p.last
			if r.IntN(4) == 0 {
				c.conv.CustomerName = p.first // WhatsApp profile names are often just a first name
			}
		}

		// The script: opener, the exchanges that reveal variables, topic and generic ones, a closer.
		var tp topic
		var reveals []exchange
		var generic []exchange
		if isSales {
			tp = salesTopics[r.IntN(len(salesTopics))]
			names := []string{"company", "email", "phone"}
			if len(c.prechat) > 0 {
				names = []string{"company", "phone"}
			}
			if typ == model.TypeWhatsApp {
				names = []string{"company", "email"}
			}
			r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
			for _, n := range names[:1+r.IntN(len(names))] {
				reveals = append(reveals, salesReveals[n])
			}
			generic = append(generic, salesGeneric...)
		} else {
			tp = supportTopics[r.IntN(len(supportTopics))]
			reveals = append(reveals, supportReveals["order_number"])
			if r.IntN(2) == 0 {
				reveals = append(reveals, supportReveals["email"])
			}
			generic = append(generic, supportGeneric...)
		}
		// A topic's own exchanges follow each other as written; the generic ones come in any order.
		middles := append([]exchange(nil), tp.middles...)
		r.Shuffle(len(generic), func(i, j int) { generic[i], generic[j] = generic[j], generic[i] })
		script := []exchange{tp.opener}
		script = append(script, reveals...)
		script = append(script, middles...)
		script = append(script, generic...)

		// How many messages: 2-20, a few long conversations.
		n := 2 + r.IntN(11)
		if r.IntN(5) == 0 {
			n = 14 + r.IntN(7)
		}
		if maxN := 2 * (len(script) + 1); n > maxN {
			n = maxN
		}
		// WhatsApp windows: the first 7 are open, 3 closed with a failed follow-up, 2 closed
		// and marked by the sweep, the rest simply expired.
		waKind := ""
		if typ == model.TypeWhatsApp {
			switch {
			case waIndex < 7:
				waKind = "open"
			case waIndex < 10:
				waKind = "failed"
			case waIndex < 12:
				waKind = "closed"
			default:
				waKind = "expired"
			}
			waIndex++
			if waKind == "failed" && n > 19 {
				n = 19
			}
		}
		exchanges := (n + 1) / 2
		script = script[:exchanges]
		closer := closers[r.IntN(len(closers))]
		if n%2 == 1 || n >= 6 {
			script[exchanges-1] = closer
		}

		// Times: gaps between messages, then placed so that the conversation ends at a chosen time.
		gaps := make([]time.Duration, n)
		var total time.Duration
		for i := 1; i < n; i++ {
			if i%2 == 1 { // the assistant answers within seconds
				gaps[i] = between(r, 2*time.Second, 14*time.Second)
			} else if typ == model.TypeWhatsApp && r.IntN(10) < 3 {
				gaps[i] = between(r, time.Hour, 7*time.Hour)
			} else {
				gaps[i] = between(r, 25*time.Second, 6*time.Minute)
			}
			total += gaps[i]
		}
		var end time.Time
		switch waKind {
		case "open":
			end = now.Add(-between(r, 20*time.Minute, 20*time.Hour))
		case "failed":
			end = now.Add(-between(r, 3*24*time.Hour, 60*24*time.Hour))
		case "closed", "expired":
			end = now.Add(-between(r, 30*time.Hour, 89*24*time.Hour))
		default:
			end = now.Add(-between(r, 10*time.Minute, 89*24*time.Hour))
		}
		if ci < 3 { // something from the last hour at the top of the list
			end = now.Add(-between(r, 2*time.Minute, 50*time.Minute))
		}
		start := end.Add(-total)
		c.startsAt = start

		weekday := func(d int) string { return start.AddDate(0, 0, d).Weekday().String() }
		seats := 6 + r.IntN(9)
		rep := strings.NewReplacer(
			"{name}", c.values["name"], "{first}", p.first, "{company}", p.company,
			"{email}", c.values["email"], "{phone}", phone, "{order}", c.values["order_number"],
			"{order2}", "PO-"+strconv.Itoa(900000+r.IntN(99999)), "{street}", streets[r.IntN(len(streets))],
			"{day}", weekday(1+r.IntN(5)), "{time}", []string{"9:30", "10:00", "11:30", "15:00"}[r.IntN(4)],
			"{shipdate}", weekday(-2), "{eta}", weekday(2),
			"{seats}", strconv.Itoa(seats), "{extra}", strconv.Itoa(seats-5), "{monthly}", strconv.Itoa(49+9*(seats-5)),
		)

		at := start
		chars := 0
		for i := 0; i < n; i++ {
			at = at.Add(gaps[i])
			ex := script[i/2]
			m := demoMessage{Message: store.Message{WorkspaceID: workspaceID, Role: model.RoleUser, CreatedAt: at}}
			if i%2 == 0 {
				m.Content = rep.Replace(ex.user)
				m.reveals = ex.reveals
			} else {
				m.Role = model.RoleAssistant
				m.Content = rep.Replace(ex.bot)
				m.PromptTokens = 380 + chars/4 + r.IntN(40)
				m.CompletionTokens = len(m.Content)/4 + 3 + r.IntN(12)
				m.CostNanos = Cost(m.PromptTokens, m.CompletionTokens)
			}
			chars += len(m.Content)
			c.msgs = append(c.msgs, m)
		}
		lastUser := start
		for _, m := range c.msgs {
			if m.Role == model.RoleUser {
				lastUser = m.CreatedAt
			}
		}
		if typ == model.TypeWhatsApp {
			exp := lastUser.Add(24 * time.Hour)
			c.conv.WindowExpiresAt = &exp
			if waKind == "failed" {
				at := lastUser.Add(between(r, 26*time.Hour, 47*time.Hour))
				content := fmt.Sprintf("Hi %s, just following up on our chat. Do you have any other questions? I'm happy to help.", p.first)
				m := demoMessage{Message: store.Message{WorkspaceID: workspaceID, Role: model.RoleAssistant, CreatedAt: at, Content: content}}
				m.PromptTokens = 380 + chars/4 + r.IntN(40)
				m.CompletionTokens = len(content)/4 + 3
				m.CostNanos = Cost(m.PromptTokens, m.CompletionTokens)
				m.Status, m.StatusError = "failed", WhatsAppReengagementError
				c.msgs = append(c.msgs, m)
				c.conv.LastError = WhatsAppReengagementError
			}
			if waKind == "failed" || waKind == "closed" {
				closed := exp.Add(between(r, time.Minute, 10*time.Minute))
				c.conv.WindowClosedAt = &closed
			}
			lastAssistant := -1
			for i := range c.msgs {
				m := &c.msgs[i]
				id := fmt.Sprintf("wamid.demo%d.%02d.%02d", workspaceID, ci, i)
				m.ProviderMessageID = &id
				if m.Role == model.RoleAssistant && m.Status == "" {
					m.Status = "read"
					lastAssistant = i
				}
				if m.Status != "" {
					t := m.CreatedAt.Add(between(r, time.Second, 90*time.Second))
					m.StatusUpdatedAt = &t
				}
			}
			if lastAssistant >= 0 && waKind == "open" && r.IntN(2) == 0 {
				c.msgs[lastAssistant].Status = "delivered"
			}
		}
		c.conv.StartedAt = c.msgs[0].CreatedAt
		c.conv.LastMessageAt = c.msgs[0].CreatedAt
		out = append(out, c)
	}
	return out
}

func asciiEmail(s string) string {
	return strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ü", "ue", "ö", "oe", "ä", "ae").Replace(s)
}

func writeDemoConversation(ctx context.Context, s *store.Store, prices *usage.Table, c demoConversation) error {
	conv := c.conv
	demoVersion := 1 // the demo assistants are never edited: version 1 answers every conversation
	conv.AssistantVersion = &demoVersion
	if err := s.CreateConversation(ctx, &conv); err != nil {
		return err
	}
	for _, name := range c.prechat {
		v := &store.ConversationVariable{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Name: name,
			Value: c.values[name], Source: "prechat", CreatedAt: conv.StartedAt}
		if err := s.SetVariable(ctx, v); err != nil {
			return err
		}
	}
	for i, dm := range c.msgs {
		m := dm.Message
		m.ConversationID = conv.ID
		if m.Role == model.RoleAssistant {
			m.AssistantVersion = &demoVersion
		}
		if m.Role == model.RoleAssistant && (m.PromptTokens > 0 || m.CompletionTokens > 0) {
			// A reply was an LLM call: its ledger row, as the reply path writes it, so that the
			// ledger, the rollups and the Analytics page agree with the conversations.
			e, _, err := usage.Entry(prices, usage.Call{
				WorkspaceID: conv.WorkspaceID, ConversationID: &conv.ID, AssistantID: conv.AssistantID,
				ConversationType: conv.Type, RequestID: fmt.Sprintf("demo:%d:%d", conv.ID, i),
				Purpose: usage.PurposeReply, Model: DemoModel,
				Tokens: usage.Tokens{Prompt: m.PromptTokens, Completion: m.CompletionTokens},
			})
			if err != nil {
				return err
			}
			e.CreatedAt = m.CreatedAt
			m.CostNanos = e.CostNanos // the price table decides, as on the reply path
			if _, err := s.AddMessageWithUsage(ctx, &m, &e); err != nil {
				return err
			}
		} else if _, err := s.AddMessage(ctx, &m); err != nil {
			return err
		}
		for _, name := range dm.reveals {
			if slices.Contains(c.prechat, name) {
				continue // the pre-chat form had it already
			}
			id := m.ID
			v := &store.ConversationVariable{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Name: name,
				Value: c.values[name], Source: "extracted", MessageID: &id, CreatedAt: m.CreatedAt.Add(3 * time.Second)}
			if err := s.SetVariable(ctx, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- bulk ----

// demoVariables are text variables from name, description pairs.
func demoVariables(nameDesc ...string) []model.Variable {
	var vs []model.Variable
	for i := 0; i+1 < len(nameDesc); i += 2 {
		vs = append(vs, model.Variable{Name: nameDesc[i], Description: nameDesc[i+1], Type: model.VariableText, Options: []string{}})
	}
	return vs
}

// demoWidgetLook is a widget look with the position key the demo has always stored.
func demoWidgetLook(title, color string) store.WidgetSettings {
	return store.WidgetSettings{Widget: model.Widget{Title: title, Color: color},
		Other: map[string]json.RawMessage{"position": json.RawMessage(`"right"`)}}
}
