package workers_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/workers"
)

// csatSends are the interactive messages Meta was asked to send.
func (e *waEnv) csatSends() []map[string]any {
	var out []map[string]any
	for _, r := range e.graph.Requests() {
		if r.Body["type"] == "interactive" {
			out = append(out, r.Body)
		}
	}
	return out
}

func (e *waEnv) setCSAT(on bool) {
	e.t.Helper()
	if _, err := e.a.Store.DB.NewUpdate().Table("assistants").Set("csat_whatsapp = ?", on).Where("id = ?", e.asst.ID).Exec(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// end ends the customer's conversation (the app's hooks enqueue the CSAT task) and returns
// the end.
func (e *waEnv) end() *store.ConversationEnd {
	e.t.Helper()
	c := e.conv()
	end, err := e.a.Conversations.End(context.Background(), c.WorkspaceID, c.ID, model.EndAPI, time.Time{})
	if err != nil || end == nil {
		e.t.Fatalf("end: %v %v", end, err)
	}
	return end
}

func (e *waEnv) endRow(id int64) *store.ConversationEnd {
	e.t.Helper()
	end, err := e.a.Store.ConversationEndByID(context.Background(), e.asst.WorkspaceID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return end
}

// tapWebhook is the customer's tap on a reply button (Meta's fixture, with the id given).
func tapWebhook(t *testing.T, wamid, buttonID string) []byte {
	b := string(waFixture(t, "interactive_button_reply.json"))
	b = strings.Replace(b, `"opt-blue"`, `"`+buttonID+`"`, 1)
	b = strings.Replace(b, "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUYzRjE4QzE0RkI2NjU0MjlFMQA=", wamid, 1)
	return []byte(strings.Replace(b, `"1749416500"`, `"`+webtest.Itoa(time.Now().Unix())+`"`, 1))
}

func TestWhatsAppCSATSentOnceAndTapRecorded(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	e.setCSAT(true)
	e.post(textWebhook("wamid.in1", "Sheena", "Do you have blue?", time.Now()))
	e.run()
	end := e.end()
	c := e.conv()

	// The end's task, and duplicates of it (a sweep's, a retry's, concurrent ones): one send.
	e.run()
	task, err := e.a.Tasks.WhatsAppCSAT(end.WorkspaceID, end.ID)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.mux.ProcessTask(context.Background(), asynq.NewTask(task.Type(), task.Payload())); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := e.wa.HandleCSATSweep(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	e.run()
	sends := e.csatSends()
	if len(sends) != 1 {
		t.Fatalf("%d CSAT questions sent, want 1", len(sends))
	}
	seq := webtest.Itoa(int64(end.Seq))
	id := webtest.Itoa(c.ID)
	want := map[string]any{
		"messaging_product": "whatsapp", "recipient_type": "individual", "to": waCust, "type": "interactive",
		"interactive": map[string]any{
			"type": "button",
			"body": map[string]any{"text": "How did we do?"},
			"action": map[string]any{"buttons": []any{
				map[string]any{"type": "reply", "reply": map[string]any{"id": "csat:" + id + ":" + seq + ":5", "title": "Great"}},
				map[string]any{"type": "reply", "reply": map[string]any{"id": "csat:" + id + ":" + seq + ":3", "title": "OK"}},
				map[string]any{"type": "reply", "reply": map[string]any{"id": "csat:" + id + ":" + seq + ":1", "title": "Poor"}},
			}},
		},
		"biz_opaque_callback_data": whatsapp.CSATKey(c.ID, end.Seq),
	}
	if !reflect.DeepEqual(sends[0], want) {
		t.Fatalf("the question:\n got %#v\nwant %#v", sends[0], want)
	}
	if e.endRow(end.ID).CSATSentAt == nil {
		t.Fatal("the end records the question as sent")
	}
	msgs := e.messages(c)
	if last := msgs[len(msgs)-1]; last.Content != "How did we do?" || last.ContentType != "interactive" || last.Status != model.StatusSent {
		t.Fatalf("the question in the timeline: %+v", last)
	}

	// The customer taps "OK": the score of this end; no message, no reply, still ended.
	before, replies := len(e.messages(c)), e.replies.Load()
	e.post(tapWebhook(t, "wamid.tap1", "csat:"+id+":"+seq+":3"))
	e.run()
	e.runScheduled(workers.TypeWhatsAppReply)
	cur := e.conv()
	if cur.CSATScore == nil || *cur.CSATScore != 3 || cur.CSATEnd != end.Seq || cur.EndedAt == nil {
		t.Fatalf("after the tap: score %v end %d ended %v", cur.CSATScore, cur.CSATEnd, cur.EndedAt)
	}
	if n := len(e.messages(c)); n != before {
		t.Fatalf("the tap was stored as a message: %d messages, was %d", n, before)
	}
	if e.replies.Load() != replies {
		t.Fatal("the AI answered the tap")
	}
	// A second tap, and a forged one, change nothing.
	e.post(tapWebhook(t, "wamid.tap2", "csat:"+id+":"+seq+":1"))
	e.post(tapWebhook(t, "wamid.tap3", "csat:"+webtest.Itoa(c.ID+1000)+":1:1"))
	e.run()
	if cur := e.conv(); *cur.CSATScore != 3 || len(e.messages(c)) != before {
		t.Fatalf("a second tap changed the score to %d", *cur.CSATScore)
	}
	evs := e.events()
	for _, ev := range evs[len(evs)-3:] {
		if ev.ProcessedAt == nil || !strings.Contains(ev.LastError, "csat") {
			t.Fatalf("tap event %s: processed %v note %q", ev.ProviderID, ev.ProcessedAt, ev.LastError)
		}
	}
}

func TestWhatsAppCSATNotSent(t *testing.T) {
	t.Run("toggle off", func(t *testing.T) {
		e := newWAEnv(t, 24*time.Hour)
		e.post(textWebhook("wamid.in1", "Sheena", "Hello", time.Now()))
		e.run()
		end := e.end()
		e.run()
		if err := e.wa.HandleCSATSweep(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		e.run()
		if n := len(e.csatSends()); n != 0 || e.endRow(end.ID).CSATSentAt != nil {
			t.Fatalf("%d questions sent with CSAT off", n)
		}
	})
	t.Run("window closed", func(t *testing.T) {
		e := newWAEnv(t, 24*time.Hour)
		e.setCSAT(true)
		e.post(textWebhook("wamid.in1", "Sheena", "Hello", time.Now().Add(-25*time.Hour)))
		e.run()
		// The window's close ended the conversation (at its deadline): that end is the one
		// whose question must not be sent.
		c := e.conv()
		if c.EndedAt == nil || c.EndReason != model.EndWindow {
			t.Fatalf("the closed window did not end the conversation: %+v", c)
		}
		end, err := e.a.Store.ConversationEndBySeq(context.Background(), c.WorkspaceID, c.ID, c.EndCount)
		if err != nil {
			t.Fatal(err)
		}
		e.run()
		if err := e.wa.HandleCSATSweep(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		e.run()
		if n := len(e.csatSends()); n != 0 || e.endRow(end.ID).CSATSentAt != nil {
			t.Fatalf("%d questions sent with the window closed", n)
		}
	})
	t.Run("task lost: the sweep sends it", func(t *testing.T) {
		e := newWAEnv(t, 24*time.Hour)
		e.setCSAT(true)
		e.post(textWebhook("wamid.in1", "Sheena", "Hello", time.Now()))
		e.run()
		end := e.end()
		// Redis lost the task.
		for q := range workers.QueuePriorities {
			tis, _ := e.insp.ListPendingTasks(q)
			for _, ti := range tis {
				if ti.Type == workers.TypeWhatsAppCSAT {
					_ = e.insp.DeleteTask(q, ti.ID)
				}
			}
		}
		e.run()
		if n := len(e.csatSends()); n != 0 {
			t.Fatalf("sent without a task: %d", n)
		}
		if err := e.wa.HandleCSATSweep(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		e.run()
		if n := len(e.csatSends()); n != 1 || e.endRow(end.ID).CSATSentAt == nil {
			t.Fatalf("the sweep sent %d questions", n)
		}
	})
}
