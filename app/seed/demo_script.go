package seed

import (
	"time"

	"github.com/parleyhq/parley/app/store"
)

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
