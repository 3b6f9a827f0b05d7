package conversation_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// The one rule for a turn: each case lists the messages (role:id, f = a fallback, i = an
// image without text) and the turns as ids, customer | answers.
func TestTurns(t *testing.T) {
	m := func(id int64, role string) store.Message {
		return store.Message{ID: id, Role: role, Content: fmt.Sprint("m", id), ContentType: "text"}
	}
	fallback := func(id int64) store.Message {
		return store.Message{ID: id, Role: model.RoleAssistant, Content: "Sorry, trouble.", Error: "timeout"}
	}
	image := func(id int64) store.Message {
		return store.Message{ID: id, Role: model.RoleUser, ContentType: "image"}
	}
	const u, a, h, sys = model.RoleUser, model.RoleAssistant, model.RoleHuman, model.RoleSystem
	for _, c := range []struct {
		name string
		msgs []store.Message
		want string // turns as "customer ids|answer ids", separated by "; "
		text []string
	}{
		{"none", nil, "", nil},
		{"only the greeting", []store.Message{m(1, a)}, "", nil},
		{"the greeting answers no turn", []store.Message{m(1, a), m(2, u), m(3, a)}, "2|3", []string{"m2"}},
		{"consecutive customer messages are one turn", []store.Message{m(1, u), m(2, u), m(3, a), m(4, h), m(5, u)},
			"1,2|3,4; 5|", []string{"m1\n\nm2", "m5"}},
		{"a team member's answer ends a turn", []store.Message{m(1, u), m(2, h), m(3, u), m(4, a)}, "1|2; 3|4", []string{"m1", "m3"}},
		{"a fallback ends a turn and is among its answers", []store.Message{m(1, u), fallback(2), m(3, u), m(4, a)},
			"1|2; 3|4", []string{"m1", "m3"}},
		{"answers after a fallback stay in its turn", []store.Message{m(1, u), fallback(2), m(3, a)}, "1|2,3", []string{"m1"}},
		{"system messages belong to no turn and do not end one", []store.Message{m(1, u), m(2, sys), m(3, u), m(4, sys), m(5, a)},
			"1,3|5", []string{"m1\n\nm3"}},
		{"a message without text", []store.Message{image(1), m(2, u)}, "1,2|", []string{"[image message]\n\nm2"}},
		{"an unanswered last turn", []store.Message{m(1, u), m(2, a), m(3, u)}, "1|2; 3|", []string{"m1", "m3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := conversation.Turns(c.msgs)
			if s := spell(got); s != c.want {
				t.Fatalf("turns = %q, want %q", s, c.want)
			}
			var texts []string
			for _, g := range got {
				texts = append(texts, g.CustomerText())
			}
			if !reflect.DeepEqual(texts, c.text) {
				t.Fatalf("customer texts = %q, want %q", texts, c.text)
			}
		})
	}

	// At most model.MaxCaseTurns turns; unanswered customer messages past the cap are dropped.
	var long []store.Message
	for i := range model.MaxCaseTurns + 3 {
		long = append(long, m(int64(2*i+1), u), m(int64(2*i+2), a))
	}
	got := conversation.Turns(long)
	if len(got) != model.MaxCaseTurns || got[len(got)-1].Customer[0].ID != int64(2*model.MaxCaseTurns-1) || len(got[len(got)-1].Answers) != 1 {
		t.Fatalf("capped: %d turns, last %+v", len(got), got[len(got)-1])
	}
}

func spell(turns []conversation.Turn) string {
	s := ""
	for i, t := range turns {
		if i > 0 {
			s += "; "
		}
		s += ids(t.Customer) + "|" + ids(t.Answers)
	}
	return s
}

func ids(msgs []store.Message) string {
	s := ""
	for i, m := range msgs {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(m.ID)
	}
	return s
}

func TestCustomerText(t *testing.T) {
	for _, c := range []struct {
		m    store.Message
		want string
	}{
		{store.Message{Content: "hi", ContentType: "text"}, "hi"},
		{store.Message{Content: "hi"}, "hi"},
		{store.Message{ContentType: "audio"}, "[audio message]"},
		{store.Message{Content: "a caption", ContentType: "image"}, "a caption"},
		{store.Message{}, ""},
	} {
		if got := conversation.CustomerText(c.m); got != c.want {
			t.Errorf("CustomerText(%+v) = %q, want %q", c.m, got, c.want)
		}
	}
}
