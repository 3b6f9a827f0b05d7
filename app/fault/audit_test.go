//go:build fault

package fault

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/uptrace/bun"
)

// The audits count replies on the fakes' own records, not on database rows (which unique
// indexes keep single anyway): what Meta's API took, and what the LLM wrote.

// problems collects a check's failures and reports the first few in full.
type problems struct {
	what string
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) report(t *testing.T) {
	t.Helper()
	if len(p.list) == 0 {
		return
	}
	sort.Strings(p.list)
	shown := p.list
	if len(shown) > 12 {
		shown = shown[:12]
	}
	more := ""
	if n := len(p.list) - len(shown); n > 0 {
		more = fmt.Sprintf("\n  ... and %d more", n)
	}
	t.Errorf("%s: %d problems:\n  %s%s", p.what, len(p.list), strings.Join(shown, "\n  "), more)
}

// whatsappAudit is what the fake Graph API's records say of a set of customers.
type whatsappAudit struct {
	Customers  int // acknowledged customers (each sent one message)
	Answered   int // got exactly one send, written by the LLM for their message
	Missing    int // got no send: their reply was lost
	Doubled    int // sends beyond the first, per customer
	Mismatched int // one send, but not the LLM's reply to their message
	Foreign    int // sends to someone who is not an acknowledged customer
}

func (a whatsappAudit) String() string {
	return fmt.Sprintf("Graph: %d of %d customers answered exactly once (missing %d, doubled %d, not the LLM's reply to them %d, to others %d)",
		a.Answered, a.Customers, a.Missing, a.Doubled, a.Mismatched, a.Foreign)
}

// answeredAll tells whether every customer has at least one send on Meta's side (for polling).
func (d *deployment) answeredAll(customers map[string]string) (answered int, all bool) {
	perTo := d.graph.byRecipient()
	for to := range customers {
		if perTo[to] > 0 {
			answered++
		}
	}
	return answered, answered == len(customers)
}

// auditWhatsApp checks, on the fake Graph API's records, that each acknowledged customer
// (number without "+" -> the text of the one message they sent) got exactly one send, that
// this send is a reply the fake LLM wrote to a request whose last customer message was theirs,
// and that nobody else got a send. Failures are reported on t.
func (d *deployment) auditWhatsApp(t *testing.T, customers map[string]string) whatsappAudit {
	t.Helper()
	a := whatsappAudit{Customers: len(customers)}
	p := &problems{what: "WhatsApp replies on the fake Graph API's records"}
	sends := map[string][]graphSend{}
	for _, s := range d.graph.all() {
		sends[s.To] = append(sends[s.To], s)
	}
	for to, text := range customers {
		ss := sends[to]
		switch {
		case len(ss) == 0:
			a.Missing++
			p.add("customer %s (%q): no reply reached Meta (lost)", to, text)
			continue
		case len(ss) > 1:
			a.Doubled += len(ss) - 1
			p.add("customer %s: Meta received %d sends, want exactly 1", to, len(ss))
			continue
		}
		c, ok := d.llm.replyRef(ss[0].Text)
		if !ok || c.LastUser != text {
			a.Mismatched++
			p.add("customer %s: the send %q is not the LLM's reply to their message %q (call %+v, found %v)", to, ss[0].Text, text, c, ok)
			continue
		}
		a.Answered++
	}
	for to, ss := range sends {
		if _, ok := customers[to]; !ok {
			a.Foreign += len(ss)
			p.add("Meta received %d sends for %s, who is not an acknowledged customer", len(ss), to)
		}
	}
	for k, n := range d.graph.byKey() {
		if n > 1 {
			p.add("send key %s reached Meta %d times", k, n)
		}
	}
	p.report(t)
	return a
}

// customersOf maps the customers of stored WhatsApp messages (by provider id) to their text,
// for load whose senders the test did not choose (bench.WhatsApp).
func (d *deployment) customersOf(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(ids); i += 500 {
		j := min(i+500, len(ids))
		var rows []struct {
			Customer string `bun:"customer"`
			Content  string `bun:"content"`
		}
		err := d.st.DB.NewSelect().TableExpr("messages AS m").Join("JOIN conversations AS c ON c.id = m.conversation_id").
			ColumnExpr("c.customer AS customer").ColumnExpr("m.content AS content").
			Where("m.role = 'user' AND m.provider_message_id IN (?)", bun.List(ids[i:j])).Scan(ctx, &rows)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[strings.TrimPrefix(r.Customer, "+")] = r.Content
		}
	}
	return out, nil
}

// customersOfDeliveries maps the senders of the acknowledged deliveries to their text.
func customersOfDeliveries(ds []delivery) map[string]string {
	out := map[string]string{}
	for _, dv := range ds {
		if dv.Acked {
			out[dv.From] = dv.Text
		}
	}
	return out
}

// widgetAudit is what became of widget messages: in the database and on the fake LLM.
type widgetAudit struct {
	Sent       int // messages posted
	Acked      int // the server said it had the message (200, or the stream's "message" event)
	Stored     int // in the database (acknowledged or not: a visitor sees it on reload)
	Lost       int // acknowledged but not stored
	Doubled    int // stored twice, or answered more than once
	NoReply    int // stored without a reply
	Mismatched int // answered once, but not by the LLM's reply to that message
	Answered   int // stored and answered exactly once by the LLM's reply to it
}

func (a widgetAudit) String() string {
	return fmt.Sprintf("widget: %d sent, %d acknowledged, %d stored, %d answered exactly once by the LLM's reply (lost %d, doubled %d, no reply %d, not the LLM's reply %d)",
		a.Sent, a.Acked, a.Stored, a.Answered, a.Lost, a.Doubled, a.NoReply, a.Mismatched)
}

// pendingWidget counts the stored visitor messages without a reply yet (for polling).
func (d *deployment) pendingWidget(ctx context.Context, msgs []widgetMsg) (int, error) {
	n := 0
	for _, m := range msgs {
		stored, replies, err := d.widgetReplies(ctx, m.Text)
		if err != nil {
			return 0, err
		}
		if stored > 0 && len(replies) == 0 {
			n++
		}
	}
	return n, nil
}

// widgetReplies finds a visitor message by its (unique) text and the assistant replies that
// follow it before the visitor's next message.
func (d *deployment) widgetReplies(ctx context.Context, text string) (stored int, replies []string, err error) {
	var us []struct {
		ID   int64 `bun:"id"`
		Conv int64 `bun:"conversation_id"`
	}
	if err = d.st.DB.NewSelect().TableExpr("messages").Column("id", "conversation_id").
		Where("role = 'user' AND content = ?", text).Order("id").Scan(ctx, &us); err != nil || len(us) == 0 {
		return 0, nil, err
	}
	u := us[0]
	var next int64
	if err = d.st.DB.NewSelect().TableExpr("messages").ColumnExpr("COALESCE(min(id), 9000000000000000000)").
		Where("conversation_id = ? AND role = 'user' AND id > ?", u.Conv, u.ID).Scan(ctx, &next); err != nil {
		return
	}
	err = d.st.DB.NewSelect().TableExpr("messages").Column("content").
		Where("conversation_id = ? AND role = 'assistant' AND id > ? AND id < ?", u.Conv, u.ID, next).Order("id").Scan(ctx, &replies)
	return len(us), replies, err
}

// auditWidget checks every widget message: acknowledged ones are stored once, and every
// stored one (acknowledged or cut off) is followed by exactly one reply, which the fake LLM
// wrote to a request whose last customer message was that message. Failures are reported on t.
func (d *deployment) auditWidget(t *testing.T, ctx context.Context, msgs []widgetMsg) widgetAudit {
	t.Helper()
	a := widgetAudit{Sent: len(msgs)}
	p := &problems{what: "widget replies (database and the fake LLM's records)"}
	for _, m := range msgs {
		if m.Acked {
			a.Acked++
		}
		stored, replies, err := d.widgetReplies(ctx, m.Text)
		if err != nil {
			t.Fatalf("widget audit: %v", err)
		}
		switch {
		case stored == 0 && m.Acked:
			a.Lost++
			p.add("%q: acknowledged (%d) but not stored", m.Text, m.Status)
			continue
		case stored == 0:
			continue // refused (the process was down): never acknowledged, the visitor retries
		case stored > 1:
			a.Doubled++
			p.add("%q: stored %d times", m.Text, stored)
		}
		a.Stored++
		switch {
		case len(replies) == 0:
			a.NoReply++
			p.add("%q (acknowledged %v, status %d %s): stored without a reply", m.Text, m.Acked, m.Status, m.Err)
			continue
		case len(replies) > 1:
			a.Doubled += len(replies) - 1
			p.add("%q: %d replies, want exactly 1", m.Text, len(replies))
			continue
		}
		c, ok := d.llm.replyRef(replies[0])
		if !ok || c.LastUser != m.Text {
			a.Mismatched++
			p.add("%q: the reply %q is not the LLM's reply to it (call %+v, found %v)", m.Text, replies[0], c, ok)
			continue
		}
		a.Answered++
	}
	p.report(t)
	return a
}
