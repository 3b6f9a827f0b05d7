// Package seed fills a database with data: believable demo data for a newcomer (Demo), and a
// large generated data set for benchmarks (Bulk).
//
// Demo goes through the store's functions (CreateAssistant, CreateConversation, AddMessage,
// SetVariable), so every stored list field and count is kept by the same code as in
// production. It is deterministic (a fixed random seed; times relative to now) and idempotent:
// its two assistants carry the public keys pa_demo_sales_<workspace> and
// pa_demo_support_<workspace>, and a second run that finds them adds nothing.
//
// Bulk writes rows directly, with every stored list field precomputed: COPY through pgx on
// PostgreSQL, multi-row INSERTs on SQLite, one transaction per batch of conversations that
// also adds the batch to conversation_counts, so the counts are right after every committed
// batch. The message texts come from a small vocabulary so that full-text search has words of
// known selectivity:
//
//   - "zanzibar": in exactly the conversations whose ordinal in the run is a multiple of 1000
//     (0.1%), in their first user message;
//   - "kilimanjaro": in the conversations whose ordinal is 1 modulo 100 (1%), first user message;
//   - the product, city and weekday words ("teapot", "lisbon", "friday", ...): each in a few
//     percent of the messages;
//   - "order", "delivery", "booking", "refund", "invoice": common, each in 5% to 30% of messages.
//
// 30% of the bulk conversations carry an "email" variable and 10% an "order_number" variable
// (pre-chat on widget conversations, extracted with the message id elsewhere).
package seed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
)

// The workspace and user created when the database has no workspace yet.
const (
	DemoWorkspaceName = "Demo workspace"
	DemoEmail         = "demo@parley.local"
	DemoPassword      = "parley-demo"
)

// demoDays is how far back the demo conversations go.
const demoDays = 90

// DemoModel is the model the demo assistants use; costs follow its prices
// ($0.15 per 1M prompt tokens, $0.60 per 1M completion tokens).
const DemoModel = "gpt-4o-mini"

// Cost is the cost in nano-dollars of a gpt-4o-mini call: 150 nano-dollars per prompt token,
// 600 per completion token.
func Cost(promptTokens, completionTokens int) int64 {
	return int64(promptTokens)*150 + int64(completionTokens)*600
}

// WhatsAppReengagementError is the status error of a message sent after the 24-hour window
// closed.
const WhatsAppReengagementError = "(#131047) Re-engagement message: more than 24 hours have passed since the recipient last replied"

// Workspace returns the workspace to seed: the one named by id, or the first one. When id is 0
// and no workspace exists, it creates DemoWorkspaceName with the admin DemoEmail / DemoPassword
// and reports created=true.
func Workspace(ctx context.Context, s *store.Store, id int64) (ws *store.Workspace, created bool, err error) {
	if id > 0 {
		ws, err = s.WorkspaceByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, fmt.Errorf("workspace %d does not exist", id)
		}
		return ws, false, err
	}
	ws, err = s.FirstWorkspace(ctx)
	if !errors.Is(err, store.ErrNotFound) {
		return ws, false, err
	}
	hash, err := auth.HashPassword(DemoPassword)
	if err != nil {
		return nil, false, err
	}
	ws, _, err = s.CreateFirstAdmin(ctx, DemoWorkspaceName, DemoEmail, hash)
	if errors.Is(err, store.ErrSetupDone) || store.IsUniqueViolation(err) {
		// Someone else set up the first workspace meanwhile.
		ws, err = s.FirstWorkspace(ctx)
		return ws, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return ws, true, nil
}

// DemoPublicKeys are the public keys of the demo assistants of a workspace; they mark the
// demo data as present.
func DemoPublicKeys(workspaceID int64) (sales, support string) {
	return fmt.Sprintf("pa_demo_sales_%d", workspaceID), fmt.Sprintf("pa_demo_support_%d", workspaceID)
}

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
	n, err := s.DB.NewSelect().Model((*store.Assistant)(nil)).
		Where("workspace_id = ? AND public_key IN (?)", workspaceID, bun.List([]string{salesKey, supportKey})).Count(ctx)
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
		FirstMessage:   "Hi! 👋 Questions about plans or pricing? I'm happy to help.",
		Model:          DemoModel,
		Temperature:    0.4,
		Variables:      `[{"name":"name","description":"the visitor's full name"},{"name":"email","description":"the visitor's email address"},{"name":"phone","description":"a phone number in E.164 format"},{"name":"company","description":"the company the visitor works for"}]`,
		PrechatFields:  `[{"name":"name","label":"Your name","type":"text","required":true},{"name":"email","label":"Your email","type":"email","required":true}]`,
		AllowedOrigins: `["https://www.example.com"]`,
		WidgetSettings: `{"title":"Talk to sales","color":"#4f46e5","position":"right"}`,
		PublicKey:      salesKey,
	}
	support := &store.Assistant{
		WorkspaceID: workspaceID,
		Name:        "Support assistant",
		SystemPrompt: "You are the customer support assistant of an online shop. Help with orders, deliveries, " +
			"returns and refunds. Always ask for the order number (it starts with PO-) before looking an order up.",
		FirstMessage:   "Hello! I can help with orders, deliveries and returns.",
		Model:          DemoModel,
		Temperature:    0.2,
		Variables:      `[{"name":"order_number","description":"the order number, like PO-123456"},{"name":"email","description":"the email address on the order"}]`,
		PrechatFields:  `[]`,
		AllowedOrigins: `["https://shop.example.com"]`,
		WidgetSettings: `{"title":"Customer support","color":"#059669","position":"right"}`,
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

type demoMessage struct {
	store.Message
	reveals []string // variables whose value this user message contains
}

type demoConversation struct {
	conv     store.Conversation
	msgs     []demoMessage
	values   map[string]string // variable values
	prechat  []string          // variables set from the pre-chat form
	startsAt time.Time
}

type exchange struct {
	user, bot string
	reveals   []string
}

type topic struct {
	opener  exchange
	middles []exchange
}

type persona struct {
	first, last, company, domain, country string
}

var personas = []persona{
	{"Anna", "Schmidt", "Kiefer Logistik", "kiefer-logistik.example", "de"},
	{"Lukas", "Weber", "Nordlicht Apotheke", "nordlicht.example", "de"},
	{"Sophie", "Becker", "Becker & Söhne", "becker-soehne.example", "de"},
	{"Jonas", "Hoffmann", "Hoffmann Fahrräder", "hoffmann-rad.example", "de"},
	{"Mia", "Schulz", "Studio Schulz", "studioschulz.example", "de"},
	{"Felix", "Wagner", "Wagner Immobilien", "wagner-immo.example", "de"},
	{"Olivia", "Bennett", "Blue Harbor Dental", "blueharbor.example", "gb"},
	{"James", "Carter", "Carter & Lane", "carterlane.example", "gb"},
	{"Emily", "Hughes", "Maple & Pine Studio", "mapleandpine.example", "gb"},
	{"Oliver", "Price", "Brightside Realty", "brightside.example", "gb"},
	{"Grace", "Turner", "Turner Bakeries", "turnerbakes.example", "gb"},
	{"Michael", "Johnson", "Northwind Traders", "northwind.example", "us"},
	{"Sarah", "Miller", "Summit Fitness", "summitfit.example", "us"},
	{"David", "Nguyen", "Pacific Coast Roasters", "pcroasters.example", "us"},
	{"Jessica", "Lopez", "Lopez Family Dentistry", "lopezdental.example", "us"},
	{"Daniel", "Kim", "Redwood Analytics", "redwood.example", "us"},
	{"Camille", "Martin", "Atelier Lumière", "atelier-lumiere.example", "fr"},
	{"Hugo", "Bernard", "Bernard Voyages", "bernard-voyages.example", "fr"},
	{"Léa", "Dubois", "Maison Dubois", "maisondubois.example", "fr"},
	{"Lucía", "García", "Clínica Sol", "clinicasol.example", "es"},
	{"Pablo", "Fernández", "Fernández Reformas", "freformas.example", "es"},
	{"Sanne", "de Vries", "Tulp Design", "tulpdesign.example", "nl"},
	{"Daan", "Jansen", "Jansen Fietsen", "jansenfietsen.example", "nl"},
	{"Giulia", "Rossi", "Trattoria Rossi", "trattoriarossi.example", "it"},
	{"Marco", "Bianchi", "Bianchi Moda", "bianchimoda.example", "it"},
	{"Priya", "Sharma", "Lotus Yoga", "lotusyoga.example", "gb"},
	{"Ahmed", "Hassan", "Cedar Travel", "cedartravel.example", "de"},
	{"Nora", "Lindqvist", "Fjord Outdoor", "fjordoutdoor.example", "nl"},
}

var streets = []string{
	"Kastanienallee 12, 10435 Berlin", "14 Elm Row, Edinburgh EH7 4AA", "Rue de la Paix 8, 75002 Paris",
	"Prinsengracht 263, 1016 GV Amsterdam", "Calle Mayor 21, 28013 Madrid", "Via Roma 45, 20121 Milano",
}

var salesTopics = []topic{
	{ // pricing
		opener: exchange{user: "Hi! How much does the Pro plan cost?",
			bot: "Hi there! The Pro plan is $49 per month, or $470 per year if you pay annually (two months free). It includes 5 seats and unlimited conversations. Want me to compare it with the other plans?"},
		middles: []exchange{
			{user: "Yes please, what's the difference to Business?",
				bot: "Sure, here's the short version:\n\n• Starter: $19/month, 1 seat, 500 conversations a month, email support.\n• Pro: $49/month, 5 seats, unlimited conversations, WhatsApp and the web widget, chat support.\n• Business: $199/month, 15 seats, everything in Pro plus SSO, an audit log, a dedicated success manager and a 99.9% uptime SLA.\n\nExtra seats are $9 per seat per month on every plan. Most teams your size start on Pro and move up when they need SSO."},
			{user: "Does the price include VAT?",
				bot: "Prices are shown without VAT. For EU customers we add VAT at your country's rate, unless you give us a valid VAT ID; then the reverse charge applies."},
			{user: "Is there a setup fee?",
				bot: "No setup fee on any plan. Business also includes two onboarding calls with our team at no extra cost."},
			{user: "What happens if we go over 500 conversations on Starter?",
				bot: "Nothing breaks: we let you know at 80% and again at 100%. Conversations above the limit are billed at $0.04 each, or you can upgrade to Pro at any time and we prorate the difference."},
		},
	},
	{ // demo booking
		opener: exchange{user: "I'd like to book a demo for my team.",
			bot: "Happy to set that up! Demos take about 30 minutes and are tailored to your use case. Which day works best for you?"},
		middles: []exchange{
			{user: "{day} at {time} would be great.",
				bot: "Booked: {day} at {time} (CET) with Lena from our product team. You'll get a calendar invite with the video link in a few minutes."},
			{user: "Can my colleague join too?",
				bot: "Of course! Just forward the invite, or tell me their email and I'll add them."},
			{user: "Actually, could we move it to the afternoon?",
				bot: "No problem. I can offer 14:00 or 16:30 on the same day. Which one suits you?"},
			{user: "16:30 please.",
				bot: "Done, the demo is now at 16:30. The updated invite is on its way."},
		},
	},
	{ // discounts
		opener: exchange{user: "Do you offer discounts for nonprofits or schools?",
			bot: "We do! Registered nonprofits and schools get 30% off any plan, for as long as they're a customer. What's the name of your organisation?"},
		middles: []exchange{
			{user: "Can we pay by invoice instead of card?",
				bot: "Yes. On annual plans we can invoice you with 30-day payment terms; monthly plans are card only."},
			{user: "What do you need from us to confirm the nonprofit status?",
				bot: "A copy of your registration certificate is enough. You can reply here with a PDF or email it to billing@parley.example."},
			{user: "Does the discount apply to extra seats too?",
				bot: "Yes, the 30% applies to the whole subscription, extra seats included."},
		},
	},
	{ // trial
		opener: exchange{user: "Can I try it before paying?",
			bot: "Yes! Every plan comes with a 14-day free trial, no credit card needed. You can switch plans or cancel at any time during the trial."},
		middles: []exchange{
			{user: "What happens to our data when the trial ends?",
				bot: "Nothing is deleted. If you don't pick a plan, your workspace becomes read-only for 30 days so you can export everything."},
			{user: "Does the trial include WhatsApp?",
				bot: "It does. You can connect one WhatsApp Business number during the trial and test the whole flow, templates included."},
			{user: "Can I switch plans later?",
				bot: "Any time. Upgrades take effect immediately and are prorated; downgrades apply from your next billing period."},
		},
	},
}

var salesGeneric = []exchange{
	{user: "Do you integrate with HubSpot?",
		bot: "Yes, there's a native HubSpot integration: conversations and the collected details are synced to the matching contact. Salesforce and Pipedrive work through our API or Zapier."},
	{user: "Where is our data stored?",
		bot: "All data is stored in the EU (Frankfurt). We sign a DPA with every customer, and you can delete conversations at any time or set automatic retention."},
	{user: "How long does onboarding usually take?",
		bot: "Most teams are live within a day: embed the widget snippet, connect WhatsApp and write your assistant's instructions. Our onboarding guide walks you through each step."},
	{user: "About {seats} people for now, maybe more next quarter.",
		bot: "Thanks! For {seats} people, Pro plus {extra} extra seats comes to ${monthly} a month. Adding seats later takes one click."},
}

var salesReveals = map[string]exchange{
	"company": {user: "I'm {name}, I run operations at {company}.",
		bot: "Nice to meet you, {first}! How many people at {company} would be using it?", reveals: []string{"name", "company"}},
	"email": {user: "Sure, my email is {email}.",
		bot: "Thanks, {first}! I've sent a summary to {email}. Let me know if it doesn't arrive within a few minutes.", reveals: []string{"email"}},
	"phone": {user: "You can also reach me on {phone} if that's easier.",
		bot: "Got it. Would a call in the morning or in the afternoon suit you better?", reveals: []string{"phone"}},
}

var supportTopics = []topic{
	{ // where is my order
		opener: exchange{user: "Hi, where is my order? It still hasn't arrived.",
			bot: "I can check that for you! Could you tell me your order number? It starts with PO- and is in your confirmation email."},
		middles: []exchange{
			{user: "The tracking hasn't updated in three days.",
				bot: "Sorry about that. Parcels aren't always scanned at every hub. If nothing changes by tomorrow evening, I'll open an investigation with DHL and we'll send a replacement."},
			{user: "Can you deliver it to a pickup point instead?",
				bot: "Once a parcel is on its way I can't change the address, but you can redirect it to a DHL pickup point from the tracking link in your shipping email."},
			{user: "Can I cancel the order then?",
				bot: "It has already shipped, so I can't cancel it, but you can refuse the delivery or return it for free within 30 days and we'll refund you in full."},
		},
	},
	{ // damaged
		opener: exchange{user: "Hi, I ordered a teapot and two cups last week and the parcel arrived today, but the box was completely crushed and the lid of the teapot is broken. The cups seem fine. I'd really like a replacement before the weekend because it's a birthday present. Is that possible?",
			bot: "I'm really sorry to hear that! Yes, we can do that. Could you share your order number so I can look into it?"},
		middles: []exchange{
			{user: "I can send you a photo of the damage if you need one.",
				bot: "Thank you, a photo helps. Reply here with it and I'll send a replacement straight away; there's no need to return the broken one."},
			{user: "Sent you a photo just now.",
				bot: "Got it, thank you. I've created replacement order {order2}; it ships today and should arrive in 2-3 business days."},
			{user: "Can I get a refund instead of a replacement?",
				bot: "Of course. I've issued a full refund for the damaged item; it will show on your statement within 5-7 business days."},
		},
	},
	{ // return
		opener: exchange{user: "I want to return a pair of shoes, they're too small.",
			bot: "No problem, returns are free within 30 days of delivery. What's your order number?"},
		middles: []exchange{
			{user: "Can I exchange them for a bigger size instead?",
				bot: "Yes! Size 43 is in stock. I've reserved a pair for you; it ships as soon as the return is scanned at the post office."},
			{user: "How do I get a return label?",
				bot: "I've just emailed a prepaid return label to the address on your order. Print it, stick it on the parcel and drop it off at any DHL point."},
			{user: "When will the refund arrive?",
				bot: "Refunds go back to your original payment method within 5-7 business days after the return reaches our warehouse. You'll get an email once it's processed."},
		},
	},
	{ // charged twice
		opener: exchange{user: "I was charged twice for the same order!",
			bot: "That shouldn't happen, sorry about that. What's the order number, so I can check the payments?"},
		middles: []exchange{
			{user: "I paid with PayPal, if that helps.",
				bot: "It does, thanks. I can see two PayPal authorisations; the second one is a pending hold that PayPal releases within 3 business days. You won't be charged twice."},
			{user: "Can you release it sooner?",
				bot: "I've asked our payments team to void the duplicate authorisation by hand. That usually clears within 24 hours."},
		},
	},
	{ // change address
		opener: exchange{user: "Can I still change the delivery address on my order?",
			bot: "If it hasn't shipped yet, yes. What's the order number?"},
		middles: []exchange{
			{user: "The new address is {street}.",
				bot: "Done: order {order} will now go to {street}. You'll get an updated confirmation by email."},
			{user: "And can you add gift wrapping?",
				bot: "Yes, gift wrapping is $4.90. I've added it; the difference will be charged to the same card."},
		},
	},
}

var supportGeneric = []exchange{
	{user: "Do you ship to Switzerland?",
		bot: "We do! Shipping to Switzerland takes 3-5 business days and costs $12.90; import duties are included in the price at checkout."},
	{user: "How long does standard delivery take?",
		bot: "Standard delivery takes 2-4 business days within Germany and 3-6 to the rest of the EU. Express arrives the next business day if you order before 14:00."},
	{user: "What are your opening hours?",
		bot: "Our customer service team is available Monday to Friday 8:00-20:00 and Saturday 9:00-16:00 (CET). I'm here around the clock for quick questions."},
}

var supportReveals = map[string]exchange{
	"order_number": {user: "It's {order}.",
		bot: "Thanks! Order {order} left our warehouse on {shipdate} and is on its way with DHL. The estimated delivery is {eta}.", reveals: []string{"order_number"}},
	"email": {user: "The email on the order is {email}.",
		bot: "Thanks, that matches the order. I've sent the details to {email} as well.", reveals: []string{"email"}},
}

var closers = []exchange{
	{user: "Great, thanks for your help!", bot: "You're welcome! If anything else comes up, just message us here."},
	{user: "Perfect, I'll talk to my team and get back to you.", bot: "Sounds good. I'll keep this conversation open, so just reply here whenever you're ready."},
	{user: "That's all I needed, thank you.", bot: "Glad I could help. Have a great day!"},
	{user: "Ok great, thanks a lot!", bot: "Anytime! Have a lovely day."},
}

var phoneFormats = map[string]struct {
	prefix string
	digits int
}{
	"de": {"+49151", 8}, "gb": {"+447700", 6}, "us": {"+1415555", 4}, "fr": {"+336", 8},
	"es": {"+346", 8}, "nl": {"+316", 8}, "it": {"+39347", 7},
}

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
		types = append(types, store.TypeTest)
	}
	for i := 0; i < demoWidget; i++ {
		types = append(types, store.TypeWidget)
	}
	for i := 0; i < demoWhatsApp; i++ {
		types = append(types, store.TypeWhatsApp)
	}
	usedPhones := map[string]bool{}
	var out []demoConversation
	waIndex := 0
	for ci, typ := range types {
		p := personas[r.IntN(len(personas))]
		isSales := r.IntN(100) < 55
		var c demoConversation
		c.conv = store.Conversation{WorkspaceID: workspaceID, Type: typ, Charged: typ != store.TypeTest, AIEnabled: true}
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
		case store.TypeTest:
			c.conv.Customer = "test_" + randHex(r, 8)
		case store.TypeWidget:
			c.conv.Customer = "sess_" + randHex(r, 12)
			if isSales { // the sales widget has a pre-chat form: name and email
				c.prechat = []string{"name", "email"}
				c.conv.CustomerName = c.values["name"]
			}
		case store.TypeWhatsApp:
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
			if typ == store.TypeWhatsApp {
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
		if typ == store.TypeWhatsApp {
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
			} else if typ == store.TypeWhatsApp && r.IntN(10) < 3 {
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
			m := demoMessage{Message: store.Message{WorkspaceID: workspaceID, Role: "user", CreatedAt: at}}
			if i%2 == 0 {
				m.Content = rep.Replace(ex.user)
				m.reveals = ex.reveals
			} else {
				m.Role = "assistant"
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
			if m.Role == "user" {
				lastUser = m.CreatedAt
			}
		}
		if typ == store.TypeWhatsApp {
			exp := lastUser.Add(24 * time.Hour)
			c.conv.WindowExpiresAt = &exp
			if waKind == "failed" {
				at := lastUser.Add(between(r, 26*time.Hour, 47*time.Hour))
				content := fmt.Sprintf("Hi %s, just following up on our chat. Do you have any other questions? I'm happy to help.", p.first)
				m := demoMessage{Message: store.Message{WorkspaceID: workspaceID, Role: "assistant", CreatedAt: at, Content: content}}
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
				if m.Role == "assistant" && m.Status == "" {
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
		if m.Role == "assistant" && (m.PromptTokens > 0 || m.CompletionTokens > 0) {
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
		res.Conversations += int64(len(b.convs))
		res.Messages += int64(len(b.msgs))
		res.Variables += int64(len(b.vars))
		el := time.Since(start)
		fmt.Fprintf(progress, "%d/%d conversations, %d messages, %d variables (%.1f s, %.0f rows/s)\n",
			res.Conversations, opts.Conversations, res.Messages, res.Variables, el.Seconds(),
			float64(res.Rows())/el.Seconds())
	}
	nBatches := (opts.Conversations + opts.Batch - 1) / opts.Batch
	batchSize := func(i int) int { return min(opts.Batch, opts.Conversations-i*opts.Batch) }

	if s.Dialect == store.Postgres {
		convBase, msgBase, err := reservePG(ctx, s, int64(opts.Conversations), int64(opts.Conversations)*int64(opts.MessagesPerConversation))
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
					if err := writePG(ectx, s, b); err != nil {
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
		if _, err := s.DB.ExecContext(ctx, "SELECT gin_clean_pending_list('messages_search_idx'::regclass)"); err != nil {
			fmt.Fprintf(progress, "could not merge the search index's pending list (VACUUM messages will): %v\n", err)
		}
		if _, err := s.DB.ExecContext(ctx, "ANALYZE conversations, messages, conversation_variables, conversation_counts"); err != nil {
			return res, fmt.Errorf("bulk: analyze: %w", err)
		}
		return res, nil
	}

	b := new(batch)
	for i := 0; i < nBatches; i++ {
		first := i * opts.Batch
		err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
			convBase, err := nextSQLiteID(ctx, tx, "conversations")
			if err != nil {
				return err
			}
			msgBase, err := nextSQLiteID(ctx, tx, "messages")
			if err != nil {
				return err
			}
			g.fill(b, i, first, batchSize(i), convBase, msgBase)
			return writeSQLite(ctx, tx, b)
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

// reservePG takes blocks of ids from the conversations and messages sequences. The tables are
// locked (EXCLUSIVE: reads go on, inserts wait) for the few milliseconds between nextval and
// setval, so that no concurrent insert can take an id inside a block.
func reservePG(ctx context.Context, s *store.Store, nConv, nMsg int64) (convBase, msgBase int64, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "LOCK TABLE conversations, messages IN EXCLUSIVE MODE"); err != nil {
			return err
		}
		for _, r := range []struct {
			table string
			n     int64
			base  *int64
		}{{"conversations", nConv, &convBase}, {"messages", nMsg, &msgBase}} {
			if err := tx.NewRaw("SELECT nextval(pg_get_serial_sequence(?, 'id'))", r.table).Scan(ctx, r.base); err != nil {
				return err
			}
			if _, err := tx.NewRaw("SELECT setval(pg_get_serial_sequence(?, 'id'), ?)", r.table, *r.base+r.n-1).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return convBase, msgBase, err
}

// nextSQLiteID is the next free id of an AUTOINCREMENT table, inside the caller's (write)
// transaction: past both the largest id and the largest id ever handed out.
func nextSQLiteID(ctx context.Context, tx bun.Tx, table string) (int64, error) {
	var seq, maxID sql.NullInt64
	if err := tx.NewRaw("SELECT seq FROM sqlite_sequence WHERE name = ?", table).Scan(ctx, &seq); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if err := tx.NewRaw("SELECT MAX(id) FROM ?", bun.Ident(table)).Scan(ctx, &maxID); err != nil {
		return 0, err
	}
	return max(seq.Int64, maxID.Int64) + 1, nil
}

type batch struct {
	convs  []store.Conversation
	msgs   []store.Message
	vars   []store.ConversationVariable
	byType map[string]int64
}

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
	b.convs = b.convs[:0]
	b.msgs = b.msgs[:0]
	b.vars = b.vars[:0]
	b.byType = map[string]int64{}
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
			c.Type = store.TypeTest
			c.Customer = fmt.Sprintf("test_%08x", uint32(mix(uint64(id))))
		case x < 6:
			c.Type = store.TypeWidget
			c.Customer = fmt.Sprintf("sess_%012x", mix(uint64(id))&0xffffffffffff)
		default:
			c.Type = store.TypeWhatsApp
			c.Customer = []string{"+4915", "+4917", "+447", "+1415", "+3361", "+3462", "+3161"}[r.IntN(7)] + fmt.Sprintf("%09d", id%1_000_000_000)
		}
		c.Charged = c.Type != store.TypeTest
		fn, ln := bulkFirst[r.IntN(len(bulkFirst))], bulkLast[r.IntN(len(bulkLast))]
		if c.Type == store.TypeWhatsApp || r.IntN(10) < 4 {
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

		firstMsg := len(b.msgs)
		var lastInbound time.Time
		for j := 0; j < g.m; j++ {
			at = at.Add(gaps[j])
			m := store.Message{ID: msgBase + int64(i*g.m+j), WorkspaceID: g.workspaceID, ConversationID: id,
				ContentType: "text", CreatedAt: at}
			if j%2 == 0 {
				m.Role = "user"
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
				m.Role = "assistant"
				m.Content = fillText(bulkBot[r.IntN(len(bulkBot))])
				if r.IntN(20) == 0 { // a few long answers
					m.Content += " " + fillText(bulkBot[r.IntN(len(bulkBot))]) + " " + fillText(bulkBot[r.IntN(len(bulkBot))])
				}
				m.PromptTokens = 300 + 40*j + r.IntN(50)
				m.CompletionTokens = 20 + r.IntN(180)
				m.CostNanos = Cost(m.PromptTokens, m.CompletionTokens)
				if c.Type == store.TypeWhatsApp {
					m.Status = "read"
					if j >= g.m-2 && r.IntN(2) == 0 {
						m.Status = "delivered"
					}
					su := m.CreatedAt.Add(time.Duration(1+r.IntN(60)) * time.Second)
					m.StatusUpdatedAt = &su
				}
			}
			if c.Type == store.TypeWhatsApp {
				pid := "wamid.bulk." + strconv.FormatInt(m.ID, 10)
				m.ProviderMessageID = &pid
			}
			c.MessageCount++
			c.PromptTokens += int64(m.PromptTokens)
			c.CompletionTokens += int64(m.CompletionTokens)
			c.CostNanos += m.CostNanos
			b.msgs = append(b.msgs, m)
		}
		lastMsg := &b.msgs[len(b.msgs)-1]
		c.LastMessageAt = lastMsg.CreatedAt
		c.LastMessagePreview = store.Preview(lastMsg.Content)
		c.LastMessageRole = lastMsg.Role
		c.LastInboundAt = &lastInbound // message 0 is always the user's
		if c.Type == store.TypeWhatsApp {
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
				if c.Type == store.TypeWidget && name == "email" {
					v.Source = "prechat" // the widget's pre-chat form
				} else {
					mid := b.msgs[firstMsg+at].ID
					v.MessageID = &mid
				}
				b.vars = append(b.vars, v)
			}
		}
		b.byType[c.Type]++
		b.convs = append(b.convs, c)
	}
}

// mix is splitmix64's finaliser: a bijection, so distinct ids give distinct customers.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

var (
	convColumns = []string{"id", "workspace_id", "assistant_id", "type", "customer", "customer_name", "started_at",
		"last_message_at", "last_inbound_at", "last_message_preview", "last_message_role", "message_count",
		"user_message_count", "prompt_tokens", "cached_tokens", "completion_tokens", "cost_nanos", "charged",
		"variables", "window_expires_at", "window_closed_at", "ai_enabled", "last_error", "created_at", "updated_at"}
	msgColumns = []string{"id", "workspace_id", "conversation_id", "role", "content", "content_type", "created_at",
		"provider_message_id", "status", "status_error", "status_updated_at", "prompt_tokens", "cached_tokens",
		"completion_tokens", "cost_nanos"}
	varColumns = []string{"workspace_id", "conversation_id", "name", "value", "source", "message_id", "created_at", "updated_at"}
)

// writePG writes a batch in one transaction on one pgx connection: COPY conversations,
// messages and variables, then add the batch to conversation_counts.
func writePG(ctx context.Context, s *store.Store, b *batch) error {
	conn, err := s.DB.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		return pgx.BeginFunc(ctx, pc, func(tx pgx.Tx) error {
			// A long GIN pending list merges the search index in big runs (cleaned at the end);
			// a batch that is lost in a crash is simply not there, with its counts.
			if _, err := tx.Exec(ctx, "SET LOCAL gin_pending_list_limit = '64MB'; SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
			row := make([]any, len(convColumns))
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"conversations"}, convColumns, pgx.CopyFromSlice(len(b.convs), func(i int) ([]any, error) {
				c := &b.convs[i]
				row[0], row[1], row[2], row[3], row[4], row[5], row[6] = c.ID, c.WorkspaceID, c.AssistantID, c.Type, c.Customer, c.CustomerName, c.StartedAt
				row[7], row[8], row[9], row[10], row[11] = c.LastMessageAt, c.LastInboundAt, c.LastMessagePreview, c.LastMessageRole, c.MessageCount
				row[12], row[13], row[14], row[15], row[16], row[17] = c.UserMessageCount, c.PromptTokens, c.CachedTokens, c.CompletionTokens, c.CostNanos, c.Charged
				row[18], row[19], row[20], row[21], row[22], row[23], row[24] = c.Variables, c.WindowExpiresAt, c.WindowClosedAt, c.AIEnabled, c.LastError, c.CreatedAt, c.UpdatedAt
				return row, nil
			})); err != nil {
				return fmt.Errorf("copy conversations: %w", err)
			}
			mrow := make([]any, len(msgColumns))
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"}, msgColumns, pgx.CopyFromSlice(len(b.msgs), func(i int) ([]any, error) {
				m := &b.msgs[i]
				mrow[0], mrow[1], mrow[2], mrow[3], mrow[4], mrow[5], mrow[6] = m.ID, m.WorkspaceID, m.ConversationID, m.Role, m.Content, m.ContentType, m.CreatedAt
				mrow[7], mrow[8], mrow[9], mrow[10], mrow[11] = m.ProviderMessageID, m.Status, m.StatusError, m.StatusUpdatedAt, m.PromptTokens
				mrow[12], mrow[13], mrow[14] = m.CachedTokens, m.CompletionTokens, m.CostNanos
				return mrow, nil
			})); err != nil {
				return fmt.Errorf("copy messages: %w", err)
			}
			vrow := make([]any, len(varColumns))
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"conversation_variables"}, varColumns, pgx.CopyFromSlice(len(b.vars), func(i int) ([]any, error) {
				v := &b.vars[i]
				vrow[0], vrow[1], vrow[2], vrow[3], vrow[4], vrow[5], vrow[6], vrow[7] = v.WorkspaceID, v.ConversationID, v.Name, v.Value, v.Source, v.MessageID, v.CreatedAt, v.UpdatedAt
				return vrow, nil
			})); err != nil {
				return fmt.Errorf("copy variables: %w", err)
			}
			for _, typ := range store.Types { // always in the same order: no deadlock between writers
				if n := b.byType[typ]; n > 0 {
					if _, err := tx.Exec(ctx, countsUpsertPG, b.convs[0].WorkspaceID, typ, n); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
}

const countsUpsertPG = `INSERT INTO conversation_counts (workspace_id, type, count) VALUES ($1, $2, $3)
	ON CONFLICT (workspace_id, type) DO UPDATE SET count = conversation_counts.count + EXCLUDED.count`

// writeSQLite writes a batch with multi-row INSERTs inside the caller's transaction.
func writeSQLite(ctx context.Context, tx bun.Tx, b *batch) error {
	const chunk = 500
	for i := 0; i < len(b.convs); i += chunk {
		part := b.convs[i:min(i+chunk, len(b.convs))]
		if _, err := tx.NewInsert().Model(&part).ExcludeColumn("ended_at").Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert conversations: %w", err)
		}
	}
	for i := 0; i < len(b.msgs); i += chunk {
		part := b.msgs[i:min(i+chunk, len(b.msgs))]
		if _, err := tx.NewInsert().Model(&part).Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
	}
	for i := 0; i < len(b.vars); i += chunk {
		part := b.vars[i:min(i+chunk, len(b.vars))]
		if _, err := tx.NewInsert().Model(&part).ExcludeColumn("id").Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert variables: %w", err)
		}
	}
	for _, typ := range store.Types {
		if n := b.byType[typ]; n > 0 {
			if _, err := tx.NewRaw(`INSERT INTO conversation_counts (workspace_id, type, count) VALUES (?, ?, ?)
				ON CONFLICT (workspace_id, type) DO UPDATE SET count = conversation_counts.count + EXCLUDED.count`,
				b.convs[0].WorkspaceID, typ, n).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}
