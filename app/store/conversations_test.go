package store_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Helpers of this file carry a "cv" prefix so that they do not collide with helpers of other
// test files of the package.

// cvT0 is the base of the fixed timestamps used by these tests (UTC, whole seconds).
var cvT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func cvAt(d time.Duration) time.Time { return cvT0.Add(d) }

func cvPtr[T any](v T) *T { return &v }

// cvWS is a workspace fixture: its assistants and conversations by test name.
type cvWS struct {
	ID    int64
	Asst  map[string]int64
	Conv  map[string]int64
	Names map[int64]string
}

func cvNewWS(t *testing.T, s *store.Store, name string, assistants ...string) *cvWS {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, name, strings.ToLower(name)+"@example.com", "hash")
	if err != nil {
		t.Fatal(err)
	}
	f := &cvWS{ID: w.ID, Asst: map[string]int64{}, Conv: map[string]int64{}, Names: map[int64]string{}}
	for _, a := range assistants {
		as := &store.Assistant{WorkspaceID: w.ID, Name: name + "/" + a}
		if err := s.CreateAssistant(ctx, as); err != nil {
			t.Fatal(err)
		}
		if as.ID == 0 {
			t.Fatal("assistant without id")
		}
		f.Asst[a] = as.ID
	}
	return f
}

// conv creates a conversation of the workspace and records it under name (when not empty).
func (w *cvWS) conv(t *testing.T, s *store.Store, name string, c store.Conversation) *store.Conversation {
	t.Helper()
	c.WorkspaceID = w.ID
	if c.Type == "" {
		c.Type = model.TypeWidget
	}
	if err := s.CreateConversation(context.Background(), &c); err != nil {
		t.Fatalf("create conversation %q: %v", name, err)
	}
	if c.ID == 0 {
		t.Fatalf("conversation %q has no id", name)
	}
	if name != "" {
		w.Conv[name] = c.ID
		w.Names[c.ID] = name
	}
	return &c
}

func cvAdd(t *testing.T, s *store.Store, m *store.Message) bool {
	t.Helper()
	ok, err := s.AddMessage(context.Background(), m)
	if err != nil {
		t.Fatalf("add message %q: %v", m.Content, err)
	}
	return ok
}

func cvCount(t *testing.T, s *store.Store, table, where string, args ...any) int {
	t.Helper()
	n, err := s.DB.NewSelect().Table(table).Where(where, args...).Count(context.Background())
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return int(n)
}

// cvTrueCounts counts a workspace's conversations per type with COUNT(*).
func cvTrueCounts(t *testing.T, s *store.Store, wsID int64) map[string]int64 {
	t.Helper()
	var rows []struct {
		Type string `bun:"type"`
		N    int64  `bun:"n"`
	}
	err := s.DB.NewSelect().Table("conversations").ColumnExpr("type, COUNT(*) AS n").
		Where("workspace_id = ?", wsID).GroupExpr("type").Scan(context.Background(), &rows)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, r := range rows {
		m[r.Type] = r.N
	}
	return m
}

// cvCheckCounts compares ConversationCounts with want and with COUNT(*).
func cvCheckCounts(t *testing.T, s *store.Store, wsID int64, want map[string]int64) {
	t.Helper()
	got, err := s.ConversationCounts(context.Background(), wsID)
	if err != nil {
		t.Fatal(err)
	}
	actual := cvTrueCounts(t, s, wsID)
	var total int64
	for _, typ := range model.Types {
		if got.ByType[typ] != want[typ] {
			t.Errorf("workspace %d: counts[%s] = %d, want %d (all: %v)", wsID, typ, got.ByType[typ], want[typ], got.ByType)
		}
		if got.ByType[typ] != actual[typ] {
			t.Errorf("workspace %d: counts[%s] = %d but COUNT(*) = %d", wsID, typ, got.ByType[typ], actual[typ])
		}
		total += actual[typ]
	}
	for typ, n := range got.ByType {
		if !slices.Contains(model.Types, typ) && n != 0 {
			t.Errorf("workspace %d: count of unknown type %q = %d", wsID, typ, n)
		}
	}
	if got.Total != total {
		t.Errorf("workspace %d: total = %d, want %d", wsID, got.Total, total)
	}
}

func cvIDs(rows []store.Conversation) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func cvMsgIDs(ms []store.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func cvEqualIDs(t *testing.T, label string, got, want []int64) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: differs at %d: got %d, want %d (got %d ids, want %d)\ngot  %v\nwant %v", label, i, got[i], want[i], len(got), len(want), got, want)
			return
		}
	}
	t.Errorf("%s: got %d ids, want %d\ngot  %v\nwant %v", label, len(got), len(want), got, want)
}

// cvListOrder sorts conversations like the list: last_message_at desc, id desc (or cost).
func cvListOrder(cs []store.Conversation, sortKey string) []int64 {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b store.Conversation) int {
		if sortKey == "cost" {
			if c := cmp.Compare(b.CostNanos, a.CostNanos); c != 0 {
				return c
			}
		} else if c := b.LastMessageAt.Compare(a.LastMessageAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return cvIDs(cs)
}

// cvMsgOrder sorts messages oldest first: created_at asc, id asc.
func cvMsgOrder(ms []store.Message) []int64 {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b store.Message) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return cvMsgIDs(ms)
}

// ---- 1. counts ----

func TestConvCountsFollowInsertsAndDeletes(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1 := cvNewWS(t, s, "One", "A")
		w2 := cvNewWS(t, s, "Two", "A")
		// The other workspace has conversations of its own; its counts must never move.
		w2want := map[string]int64{model.TypeWidget: 2, model.TypeWhatsApp: 1}
		w2.conv(t, s, "", store.Conversation{Type: model.TypeWidget})
		w2.conv(t, s, "", store.Conversation{Type: model.TypeWidget})
		w2.conv(t, s, "", store.Conversation{Type: model.TypeWhatsApp, AssistantID: cvPtr(w2.Asst["A"]), Customer: "+491"})
		cvCheckCounts(t, s, w2.ID, w2want)
		cvCheckCounts(t, s, w1.ID, map[string]int64{})

		byType := map[string][]int64{}
		seq := 0
		create := func(t *testing.T, typ string, n int) {
			for range n {
				seq++
				c := w1.conv(t, s, "", store.Conversation{Type: typ, AssistantID: cvPtr(w1.Asst["A"]), Customer: fmt.Sprintf("cust-%d", seq)})
				byType[typ] = append(byType[typ], c.ID)
			}
		}
		steps := []struct {
			name string
			do   func(t *testing.T)
			want map[string]int64
		}{
			{"create 3 widget, 2 test, 2 whatsapp", func(t *testing.T) {
				create(t, model.TypeWidget, 3)
				create(t, model.TypeTest, 2)
				create(t, model.TypeWhatsApp, 2)
			}, map[string]int64{model.TypeWidget: 3, model.TypeTest: 2, model.TypeWhatsApp: 2}},
			{"delete one widget", func(t *testing.T) {
				if err := s.DeleteConversation(ctx, w1.ID, byType[model.TypeWidget][0]); err != nil {
					t.Fatal(err)
				}
			}, map[string]int64{model.TypeWidget: 2, model.TypeTest: 2, model.TypeWhatsApp: 2}},
			{"deleting it again is not found and changes nothing", func(t *testing.T) {
				if err := s.DeleteConversation(ctx, w1.ID, byType[model.TypeWidget][0]); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("second delete: %v, want ErrNotFound", err)
				}
			}, map[string]int64{model.TypeWidget: 2, model.TypeTest: 2, model.TypeWhatsApp: 2}},
			{"another workspace cannot delete it", func(t *testing.T) {
				if err := s.DeleteConversation(ctx, w2.ID, byType[model.TypeTest][0]); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("delete through workspace 2: %v, want ErrNotFound", err)
				}
			}, map[string]int64{model.TypeWidget: 2, model.TypeTest: 2, model.TypeWhatsApp: 2}},
			{"create 4 test, 1 widget", func(t *testing.T) {
				create(t, model.TypeTest, 4)
				create(t, model.TypeWidget, 1)
			}, map[string]int64{model.TypeWidget: 3, model.TypeTest: 6, model.TypeWhatsApp: 2}},
			{"delete one whatsapp", func(t *testing.T) {
				if err := s.DeleteConversation(ctx, w1.ID, byType[model.TypeWhatsApp][1]); err != nil {
					t.Fatal(err)
				}
			}, map[string]int64{model.TypeWidget: 3, model.TypeTest: 6, model.TypeWhatsApp: 1}},
			{"DeleteMatching test type, batch 4", func(t *testing.T) {
				n, err := s.DeleteMatching(ctx, w1.ID, store.Filter{Type: model.TypeTest}, 4)
				if err != nil || n != 4 {
					t.Fatalf("deleted %d, %v; want 4", n, err)
				}
			}, map[string]int64{model.TypeWidget: 3, model.TypeTest: 2, model.TypeWhatsApp: 1}},
			{"DeleteMatching everything, batch 100", func(t *testing.T) {
				n, err := s.DeleteMatching(ctx, w1.ID, store.Filter{}, 100)
				if err != nil || n != 6 {
					t.Fatalf("deleted %d, %v; want 6", n, err)
				}
			}, map[string]int64{}},
			{"DeleteMatching on an empty workspace", func(t *testing.T) {
				n, err := s.DeleteMatching(ctx, w1.ID, store.Filter{}, 100)
				if err != nil || n != 0 {
					t.Fatalf("deleted %d, %v; want 0", n, err)
				}
			}, map[string]int64{}},
			{"create after emptying", func(t *testing.T) {
				create(t, model.TypeWhatsApp, 1)
				create(t, model.TypeTest, 1)
			}, map[string]int64{model.TypeTest: 1, model.TypeWhatsApp: 1}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				st.do(t)
				cvCheckCounts(t, s, w1.ID, st.want)
				cvCheckCounts(t, s, w2.ID, w2want)
			})
		}
	})
}

// ---- 2. AddMessage and the stored list fields ----

func TestConvPreview(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"only whitespace", " \n\t\r ", ""},
		{"short", "hello", "hello"},
		{"whitespace collapsed", "  hello \n\t  world \r\n", "hello world"},
		{"exactly 140 runes", strings.Repeat("a", 140), strings.Repeat("a", 140)},
		{"140 two-byte runes are not cut", strings.Repeat("é", 140), strings.Repeat("é", 140)},
		{"141 runes", strings.Repeat("a", 141), strings.Repeat("a", 139) + "…"},
		{"long multibyte", strings.Repeat("ü ", 200), strings.Repeat("ü ", 69) + "ü…"},
		{"collapsing brings it under the limit", "a" + strings.Repeat(" ", 300) + "b", "a b"},
		{"newlines count as one space before cutting", strings.Repeat("x", 139) + "\n\n\n" + "y", strings.Repeat("x", 139) + "…"},
		{"emoji", strings.Repeat("😀", 150), strings.Repeat("😀", 139) + "…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := store.Preview(c.in)
			if got != c.want {
				t.Fatalf("Preview = %q, want %q", got, c.want)
			}
			if n := utf8.RuneCountInString(got); n > store.PreviewLength || !utf8.ValidString(got) {
				t.Fatalf("preview of %d runes (valid %v)", n, utf8.ValidString(got))
			}
		})
	}
}

func TestConvAddMessageKeepsListFields(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1 := cvNewWS(t, s, "One", "A")
		w2 := cvNewWS(t, s, "Two", "A")
		c := w1.conv(t, s, "c", store.Conversation{Type: model.TypeWidget, AssistantID: cvPtr(w1.Asst["A"]), StartedAt: cvAt(0)})
		// The same messages in another workspace's conversation must not touch c.
		other := w2.conv(t, s, "c", store.Conversation{Type: model.TypeWidget, StartedAt: cvAt(0)})

		long := strings.Repeat("ü ", 200)
		type want struct {
			count, user                      int
			prompt, cached, completion, cost int64
			last                             time.Time
			preview, role                    string
			inbound                          *time.Time
		}
		steps := []struct {
			name string
			msg  store.Message
			want want
		}{
			{"first user message", store.Message{Role: "user", Content: "  Hello   there\n\tfriend ", CreatedAt: cvAt(time.Minute)},
				want{1, 1, 0, 0, 0, 0, cvAt(time.Minute), "Hello there friend", "user", cvPtr(cvAt(time.Minute))}},
			{"assistant reply with usage", store.Message{Role: "assistant", Content: "Hi! How can I help?", CreatedAt: cvAt(2 * time.Minute), PromptTokens: 100, CachedTokens: 20, CompletionTokens: 30, CostNanos: 5000},
				want{2, 1, 100, 20, 30, 5000, cvAt(2 * time.Minute), "Hi! How can I help?", "assistant", cvPtr(cvAt(time.Minute))}},
			{"older user message arrives late", store.Message{Role: "user", Content: "late arrival", CreatedAt: cvAt(30 * time.Second), PromptTokens: 1, CostNanos: 1},
				want{3, 2, 101, 20, 30, 5001, cvAt(2 * time.Minute), "Hi! How can I help?", "assistant", cvPtr(cvAt(time.Minute))}},
			{"human agent, long text", store.Message{Role: "human", Content: long, CreatedAt: cvAt(3 * time.Minute), CostNanos: 7},
				want{4, 2, 101, 20, 30, 5008, cvAt(3 * time.Minute), strings.Repeat("ü ", 69) + "ü…", "human", cvPtr(cvAt(time.Minute))}},
			{"user message at the same instant as the newest", store.Message{Role: "user", Content: "same time", CreatedAt: cvAt(3 * time.Minute)},
				want{5, 3, 101, 20, 30, 5008, cvAt(3 * time.Minute), "same time", "user", cvPtr(cvAt(3 * time.Minute))}},
			{"older assistant message with usage arrives late", store.Message{Role: "assistant", Content: "late reply", CreatedAt: cvAt(150 * time.Second), PromptTokens: 10, CachedTokens: 5, CompletionTokens: 3, CostNanos: 1000},
				want{6, 3, 111, 25, 33, 6008, cvAt(3 * time.Minute), "same time", "user", cvPtr(cvAt(3 * time.Minute))}},
			{"older user message does not move last_inbound_at back", store.Message{Role: "user", Content: "very old", CreatedAt: cvAt(10 * time.Second)},
				want{7, 4, 111, 25, 33, 6008, cvAt(3 * time.Minute), "same time", "user", cvPtr(cvAt(3 * time.Minute))}},
			{"tool message with sub-second time", store.Message{Role: "tool", Content: "{\"ok\":true}", CreatedAt: cvAt(4*time.Minute + 123456789*time.Nanosecond), CompletionTokens: 2},
				want{8, 4, 111, 25, 35, 6008, cvAt(4*time.Minute + 123456*time.Microsecond), "{\"ok\":true}", "tool", cvPtr(cvAt(3 * time.Minute))}},
			{"system message newer still", store.Message{Role: "system", Content: "closed", CreatedAt: cvAt(5 * time.Minute)},
				want{9, 4, 111, 25, 35, 6008, cvAt(5 * time.Minute), "closed", "system", cvPtr(cvAt(3 * time.Minute))}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				m := st.msg
				m.WorkspaceID, m.ConversationID = w1.ID, c.ID
				if !cvAdd(t, s, &m) {
					t.Fatal("inserted = false for a message without provider id")
				}
				if m.ID == 0 {
					t.Fatal("message has no id")
				}
				om := st.msg
				om.WorkspaceID, om.ConversationID = w2.ID, other.ID
				cvAdd(t, s, &om)

				got, err := s.GetConversation(ctx, w1.ID, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				w := st.want
				if got.MessageCount != w.count || got.UserMessageCount != w.user {
					t.Errorf("counts = %d/%d, want %d/%d", got.MessageCount, got.UserMessageCount, w.count, w.user)
				}
				if got.PromptTokens != w.prompt || got.CachedTokens != w.cached || got.CompletionTokens != w.completion || got.CostNanos != w.cost {
					t.Errorf("usage = %d/%d/%d cost %d, want %d/%d/%d cost %d", got.PromptTokens, got.CachedTokens, got.CompletionTokens, got.CostNanos, w.prompt, w.cached, w.completion, w.cost)
				}
				if !got.LastMessageAt.Equal(w.last) {
					t.Errorf("last_message_at = %v, want %v", got.LastMessageAt, w.last)
				}
				if got.LastMessagePreview != w.preview || got.LastMessageRole != w.role {
					t.Errorf("preview = %q (%s), want %q (%s)", got.LastMessagePreview, got.LastMessageRole, w.preview, w.role)
				}
				if (got.LastInboundAt == nil) != (w.inbound == nil) || (got.LastInboundAt != nil && !got.LastInboundAt.Equal(*w.inbound)) {
					t.Errorf("last_inbound_at = %v, want %v", got.LastInboundAt, w.inbound)
				}
				if n := cvCount(t, s, "messages", "conversation_id = ?", c.ID); n != w.count {
					t.Errorf("stored messages = %d, want %d", n, w.count)
				}
				// The other workspace's copy evolves the same way, independently.
				og, err := s.GetConversation(ctx, w2.ID, other.ID)
				if err != nil {
					t.Fatal(err)
				}
				if og.MessageCount != w.count || og.CostNanos != w.cost || og.LastMessagePreview != w.preview {
					t.Errorf("other workspace: %d messages, cost %d, preview %q", og.MessageCount, og.CostNanos, og.LastMessagePreview)
				}
			})
		}

		t.Run("message into another workspace's conversation", func(t *testing.T) {
			m := &store.Message{WorkspaceID: w2.ID, ConversationID: c.ID, Role: "user", Content: "intruder", CreatedAt: cvAt(time.Hour)}
			if _, err := s.AddMessage(ctx, m); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("AddMessage across workspaces: %v, want ErrNotFound", err)
			}
			if n := cvCount(t, s, "messages", "content = ?", "intruder"); n != 0 {
				t.Fatalf("the refused message was stored (%d rows)", n)
			}
			got, _ := s.GetConversation(ctx, w1.ID, c.ID)
			if got.MessageCount != 9 || got.LastMessagePreview != "closed" {
				t.Fatalf("conversation changed: %d messages, preview %q", got.MessageCount, got.LastMessagePreview)
			}
		})
	})
}

func TestConvAddMessageProviderIDStoredOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w := cvNewWS(t, s, "One", "A")
		c := w.conv(t, s, "c", store.Conversation{Type: model.TypeWhatsApp, AssistantID: cvPtr(w.Asst["A"]), Customer: "+4915", StartedAt: cvAt(0)})

		t.Run("sequential", func(t *testing.T) {
			for i, wantInserted := range []bool{true, false, false} {
				m := &store.Message{WorkspaceID: w.ID, ConversationID: c.ID, Role: "user", Content: fmt.Sprintf("copy %d", i),
					CreatedAt: cvAt(time.Minute), ProviderMessageID: cvPtr("wamid.SEQ"), CostNanos: 10, PromptTokens: 3}
				ok, err := s.AddMessage(ctx, m)
				if err != nil {
					t.Fatalf("copy %d: %v", i, err)
				}
				if ok != wantInserted {
					t.Fatalf("copy %d: inserted = %v, want %v", i, ok, wantInserted)
				}
				if ok && m.ID == 0 {
					t.Fatal("inserted message has no id")
				}
			}
			got, err := s.GetConversation(ctx, w.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.MessageCount != 1 || got.UserMessageCount != 1 || got.CostNanos != 10 || got.PromptTokens != 3 || got.LastMessagePreview != "copy 0" {
				t.Fatalf("after duplicates: %+v", got)
			}
			if n := cvCount(t, s, "messages", "provider_message_id = ?", "wamid.SEQ"); n != 1 {
				t.Fatalf("stored %d rows", n)
			}
		})

		t.Run("concurrent", func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			inserted := 0
			for i := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := &store.Message{WorkspaceID: w.ID, ConversationID: c.ID, Role: "user", Content: fmt.Sprintf("racer %d", i),
						CreatedAt: cvAt(2 * time.Minute), ProviderMessageID: cvPtr("wamid.RACE"), CostNanos: 100, CompletionTokens: 5}
					ok, err := s.AddMessage(ctx, m)
					if err != nil {
						t.Errorf("racer %d: %v", i, err)
						return
					}
					if ok {
						if m.ID == 0 {
							t.Errorf("racer %d: inserted without id", i)
						}
						mu.Lock()
						inserted++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if inserted != 1 {
				t.Fatalf("inserted = true %d times, want exactly 1", inserted)
			}
			if n := cvCount(t, s, "messages", "provider_message_id = ?", "wamid.RACE"); n != 1 {
				t.Fatalf("stored %d rows", n)
			}
			got, err := s.GetConversation(ctx, w.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.MessageCount != 2 || got.UserMessageCount != 2 || got.CostNanos != 110 || got.CompletionTokens != 5 {
				t.Fatalf("counted more than once: %d messages, %d user, cost %d, completion %d", got.MessageCount, got.UserMessageCount, got.CostNanos, got.CompletionTokens)
			}
			if !strings.HasPrefix(got.LastMessagePreview, "racer ") || !got.LastMessageAt.Equal(cvAt(2*time.Minute)) {
				t.Fatalf("preview %q at %v", got.LastMessagePreview, got.LastMessageAt)
			}
		})
	})
}

// ---- 3. variables ----

func TestConvSetVariableUpserts(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1 := cvNewWS(t, s, "One")
		w2 := cvNewWS(t, s, "Two")
		c := w1.conv(t, s, "c", store.Conversation{StartedAt: cvAt(0)})
		c2 := w1.conv(t, s, "c2", store.Conversation{StartedAt: cvAt(0)})
		m := &store.Message{WorkspaceID: w1.ID, ConversationID: c.ID, Role: "user", Content: "my email is a@x.io", CreatedAt: cvAt(time.Minute)}
		cvAdd(t, s, m)
		m2 := &store.Message{WorkspaceID: w1.ID, ConversationID: c.ID, Role: "user", Content: "now b@x.io", CreatedAt: cvAt(2 * time.Minute)}
		cvAdd(t, s, m2)

		type row struct {
			value, source string
			msg           *int64
		}
		steps := []struct {
			name string
			v    store.ConversationVariable
			want map[string]row // the conversation's variables after the step
		}{
			{"first variable", store.ConversationVariable{Name: "email", Value: "a@x.io", Source: "prechat"},
				map[string]row{"email": {"a@x.io", "prechat", nil}}},
			{"second variable with message", store.ConversationVariable{Name: "plan", Value: "pro", Source: "extracted", MessageID: &m.ID},
				map[string]row{"email": {"a@x.io", "prechat", nil}, "plan": {"pro", "extracted", &m.ID}}},
			{"replace the first", store.ConversationVariable{Name: "email", Value: "b@x.io", Source: "api", MessageID: &m2.ID},
				map[string]row{"email": {"b@x.io", "api", &m2.ID}, "plan": {"pro", "extracted", &m.ID}}},
			{"replace with quotes and unicode", store.ConversationVariable{Name: "plan", Value: `he said "ünïcode" \ 'ok'`, Source: "extracted"},
				map[string]row{"email": {"b@x.io", "api", &m2.ID}, "plan": {`he said "ünïcode" \ 'ok'`, "extracted", nil}}},
			{"same value again", store.ConversationVariable{Name: "email", Value: "b@x.io", Source: "api", MessageID: &m2.ID},
				map[string]row{"email": {"b@x.io", "api", &m2.ID}, "plan": {`he said "ünïcode" \ 'ok'`, "extracted", nil}}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				v := st.v
				v.WorkspaceID, v.ConversationID = w1.ID, c.ID
				if err := s.SetVariable(ctx, &v); err != nil {
					t.Fatal(err)
				}
				vs, err := s.Variables(ctx, w1.ID, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(vs) != len(st.want) {
					t.Fatalf("%d variables, want %d: %+v", len(vs), len(st.want), vs)
				}
				wantJSON := map[string]string{}
				for _, v := range vs {
					w, ok := st.want[v.Name]
					if !ok {
						t.Fatalf("unexpected variable %q", v.Name)
					}
					if v.Value != w.value || v.Source != w.source || (v.MessageID == nil) != (w.msg == nil) || (v.MessageID != nil && *v.MessageID != *w.msg) {
						t.Errorf("%s = %q/%s/%v, want %q/%s/%v", v.Name, v.Value, v.Source, v.MessageID, w.value, w.source, w.msg)
					}
					wantJSON[v.Name] = w.value
				}
				got, err := s.GetConversation(ctx, w1.ID, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				var vars map[string]string
				if err := json.Unmarshal([]byte(got.Variables), &vars); err != nil {
					t.Fatalf("variables %q: %v", got.Variables, err)
				}
				if !maps.Equal(vars, wantJSON) {
					t.Errorf("variables JSON = %v, want %v", vars, wantJSON)
				}
				if n := cvCount(t, s, "conversation_variables", "conversation_id = ?", c.ID); n != len(st.want) {
					t.Errorf("%d rows, want %d", n, len(st.want))
				}
				// The sibling conversation is untouched.
				sib, _ := s.GetConversation(ctx, w1.ID, c2.ID)
				if sib.Variables != "{}" {
					t.Errorf("sibling variables = %q", sib.Variables)
				}
			})
		}

		t.Run("another workspace cannot set it", func(t *testing.T) {
			v := &store.ConversationVariable{WorkspaceID: w2.ID, ConversationID: c.ID, Name: "email", Value: "evil", Source: "api"}
			if err := s.SetVariable(ctx, v); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("SetVariable across workspaces: %v, want ErrNotFound", err)
			}
			v2 := &store.ConversationVariable{WorkspaceID: w2.ID, ConversationID: c.ID, Name: "newname", Value: "evil", Source: "api"}
			if err := s.SetVariable(ctx, v2); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("SetVariable across workspaces: %v, want ErrNotFound", err)
			}
			if n := cvCount(t, s, "conversation_variables", "value = ?", "evil"); n != 0 {
				t.Fatalf("refused variable stored: %d rows", n)
			}
			got, _ := s.GetConversation(ctx, w1.ID, c.ID)
			if strings.Contains(got.Variables, "evil") {
				t.Fatalf("variables JSON changed: %s", got.Variables)
			}
		})

		t.Run("variable names", func(t *testing.T) {
			names, err := s.VariableNames(ctx, w1.ID)
			if err != nil || !slices.Equal(names, []string{"email", "plan"}) {
				t.Fatalf("names %v %v", names, err)
			}
			names, err = s.VariableNames(ctx, w2.ID)
			if err != nil || len(names) != 0 {
				t.Fatalf("workspace 2 names %v %v", names, err)
			}
		})
	})
}

// ---- 4. filters ----

// cvFilterFixture builds the same eight conversations in a workspace (a mirror in every
// workspace, so a filter that forgets the workspace shows it).
func cvFilterFixture(t *testing.T, s *store.Store, w *cvWS, now time.Time) {
	t.Helper()
	ctx := context.Background()
	a1, a2 := cvPtr(w.Asst["A1"]), cvPtr(w.Asst["A2"])
	type msg struct {
		content string
		cost    int64
	}
	specs := []struct {
		name     string
		c        store.Conversation
		msgs     []msg
		vars     map[string]string
		window   *time.Time
		lastHour int
	}{
		{"c1", store.Conversation{Type: model.TypeWidget, AssistantID: a1, Customer: "alice@example.com"},
			[]msg{{"The quick brown fox jumps", 100}, {"fox facts", 200}}, map[string]string{"plan": "pro"}, nil, 1},
		{"c2", store.Conversation{Type: model.TypeWidget, AssistantID: a2, Customer: "alicia@example.com"},
			[]msg{{"A lazy dog sleeps", 100}}, map[string]string{"plan": "free"}, cvPtr(now.Add(10 * time.Minute)), 2},
		{"c3", store.Conversation{Type: model.TypeTest, AssistantID: a1, Customer: "bob"},
			[]msg{{"zebra crossing ahead", 300}}, map[string]string{"email": "bob@x.io"}, nil, 3},
		{"c4", store.Conversation{Type: model.TypeWhatsApp, AssistantID: a1, Customer: "+4915111"},
			[]msg{{"hello world", 0}}, nil, cvPtr(now.Add(30 * time.Minute)), 4},
		{"c5", store.Conversation{Type: model.TypeWhatsApp, AssistantID: a2, Customer: "+4915222"},
			[]msg{{"hello again", 50}}, nil, cvPtr(now.Add(3 * time.Hour)), 4},
		{"c6", store.Conversation{Type: model.TypeWhatsApp, AssistantID: a1, Customer: "+4930111"},
			[]msg{{"window expired", 50}}, map[string]string{"plan": "pro"}, cvPtr(now.Add(-10 * time.Minute)), 5},
		{"c7", store.Conversation{Type: model.TypeWhatsApp, AssistantID: a2, Customer: "+4930222"},
			[]msg{{"no window yet", 0}}, nil, nil, 6},
		{"c8", store.Conversation{Type: model.TypeWidget, Customer: "b%~ü"},
			[]msg{{"Can you say OR and NEAR in a sentence?", 0}}, nil, nil, 7},
	}
	for _, sp := range specs {
		last := cvAt(time.Duration(sp.lastHour) * time.Hour)
		c := sp.c
		c.StartedAt, c.LastMessageAt = last.Add(-10*time.Minute), last.Add(-10*time.Minute)
		cc := w.conv(t, s, sp.name, c)
		for i, m := range sp.msgs {
			at := last.Add(time.Duration(i-len(sp.msgs)+1) * time.Second)
			cvAdd(t, s, &store.Message{WorkspaceID: w.ID, ConversationID: cc.ID, Role: "user", Content: m.content, CreatedAt: at, CostNanos: m.cost})
		}
		for _, k := range slices.Sorted(maps.Keys(sp.vars)) {
			if err := s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: w.ID, ConversationID: cc.ID, Name: k, Value: sp.vars[k], Source: "prechat"}); err != nil {
				t.Fatal(err)
			}
		}
		if sp.window != nil {
			if _, err := s.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("window_expires_at = ?", sp.window.UTC().Truncate(time.Microsecond)).
				Where("id = ?", cc.ID).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetConversation(ctx, w.ID, cc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastMessageAt.Equal(last) {
			t.Fatalf("%s: last_message_at %v, want %v", sp.name, got.LastMessageAt, last)
		}
	}
}

func TestConvListFilters(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		w1 := cvNewWS(t, s, "One", "A1", "A2")
		w2 := cvNewWS(t, s, "Two", "A1", "A2")
		cvFilterFixture(t, s, w1, now)
		cvFilterFixture(t, s, w2, now)
		all := []string{"c8", "c7", "c6", "c5", "c4", "c3", "c2", "c1"}

		cases := []struct {
			name string
			f    func(own, other *cvWS) store.Filter
			want []string
		}{
			{"no filter", func(own, other *cvWS) store.Filter { return store.Filter{} }, all},
			{"type widget", func(own, other *cvWS) store.Filter { return store.Filter{Type: model.TypeWidget} }, []string{"c8", "c2", "c1"}},
			{"type whatsapp", func(own, other *cvWS) store.Filter { return store.Filter{Type: model.TypeWhatsApp} }, []string{"c7", "c6", "c5", "c4"}},
			{"type test", func(own, other *cvWS) store.Filter { return store.Filter{Type: model.TypeTest} }, []string{"c3"}},
			{"assistant A1", func(own, other *cvWS) store.Filter { return store.Filter{AssistantID: own.Asst["A1"]} }, []string{"c6", "c4", "c3", "c1"}},
			{"assistant of the other workspace", func(own, other *cvWS) store.Filter { return store.Filter{AssistantID: other.Asst["A1"]} }, nil},
			{"assistant A2 and whatsapp", func(own, other *cvWS) store.Filter {
				return store.Filter{AssistantID: own.Asst["A2"], Type: model.TypeWhatsApp}
			}, []string{"c7", "c5"}},
			{"customer prefix ali", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "ali"} }, []string{"c2", "c1"}},
			{"customer prefix alice", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "alice"} }, []string{"c1"}},
			{"customer full value", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "alicia@example.com"} }, []string{"c2"}},
			{"customer longer than any", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "alice@example.comx"} }, nil},
			{"customer phone prefix", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "+4915"} }, []string{"c5", "c4"}},
			{"customer phone prefix 2", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "+4930"} }, []string{"c7", "c6"}},
			{"customer is not a LIKE pattern", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "b%"} }, []string{"c8"}},
			{"customer underscore is literal", func(own, other *cvWS) store.Filter { return store.Filter{Customer: "_"} }, nil},
			{"from and to", func(own, other *cvWS) store.Filter {
				return store.Filter{From: cvPtr(cvAt(2 * time.Hour)), To: cvPtr(cvAt(4 * time.Hour))}
			}, []string{"c3", "c2"}},
			{"from is inclusive", func(own, other *cvWS) store.Filter { return store.Filter{From: cvPtr(cvAt(5 * time.Hour))} }, []string{"c8", "c7", "c6"}},
			{"to is exclusive", func(own, other *cvWS) store.Filter { return store.Filter{To: cvPtr(cvAt(2 * time.Hour))} }, []string{"c1"}},
			{"to a microsecond after", func(own, other *cvWS) store.Filter {
				return store.Filter{To: cvPtr(cvAt(2*time.Hour + time.Microsecond))}
			}, []string{"c2", "c1"}},
			{"from and to in another zone", func(own, other *cvWS) store.Filter {
				z := time.FixedZone("X", 5*3600)
				return store.Filter{From: cvPtr(cvAt(4 * time.Hour).In(z)), To: cvPtr(cvAt(5 * time.Hour).In(z))}
			}, []string{"c5", "c4"}},
			{"empty range", func(own, other *cvWS) store.Filter {
				return store.Filter{From: cvPtr(cvAt(4 * time.Hour)), To: cvPtr(cvAt(4 * time.Hour))}
			}, nil},
			{"variable name", func(own, other *cvWS) store.Filter { return store.Filter{VarName: "plan"} }, []string{"c6", "c2", "c1"}},
			{"variable name and value", func(own, other *cvWS) store.Filter { return store.Filter{VarName: "plan", VarValue: "pro"} }, []string{"c6", "c1"}},
			{"variable other name", func(own, other *cvWS) store.Filter { return store.Filter{VarName: "email"} }, []string{"c3"}},
			{"variable value matching nothing", func(own, other *cvWS) store.Filter {
				return store.Filter{VarName: "plan", VarValue: "enterprise"}
			}, nil},
			{"variable value of another name", func(own, other *cvWS) store.Filter { return store.Filter{VarName: "email", VarValue: "pro"} }, nil},
			{"unknown variable", func(own, other *cvWS) store.Filter { return store.Filter{VarName: "nope"} }, nil},
			{"query one word", func(own, other *cvWS) store.Filter { return store.Filter{Query: "zebra"} }, []string{"c3"}},
			{"query is case-insensitive", func(own, other *cvWS) store.Filter { return store.Filter{Query: "ZEBRA"} }, []string{"c3"}},
			{"query in two messages of one conversation", func(own, other *cvWS) store.Filter { return store.Filter{Query: "fox"} }, []string{"c1"}},
			{"query in two conversations", func(own, other *cvWS) store.Filter { return store.Filter{Query: "hello"} }, []string{"c5", "c4"}},
			{"query all words must match", func(own, other *cvWS) store.Filter { return store.Filter{Query: "quick fox"} }, []string{"c1"}},
			{"query words from different messages", func(own, other *cvWS) store.Filter { return store.Filter{Query: "quick facts"} }, nil},
			{"query no match", func(own, other *cvWS) store.Filter { return store.Filter{Query: "nothinghere"} }, nil},
			{"query blank", func(own, other *cvWS) store.Filter { return store.Filter{Query: "   "} }, all},
			{"query and type", func(own, other *cvWS) store.Filter { return store.Filter{Query: "hello", Type: model.TypeWidget} }, nil},
			{"window within 1h", func(own, other *cvWS) store.Filter { return store.Filter{WindowClosingWithin: time.Hour} }, []string{"c4"}},
			{"window within 4h", func(own, other *cvWS) store.Filter { return store.Filter{WindowClosingWithin: 4 * time.Hour} }, []string{"c5", "c4"}},
			{"window within 1m", func(own, other *cvWS) store.Filter { return store.Filter{WindowClosingWithin: time.Minute} }, nil},
			{"window and assistant", func(own, other *cvWS) store.Filter {
				return store.Filter{WindowClosingWithin: 4 * time.Hour, AssistantID: own.Asst["A2"]}
			}, []string{"c5"}},
			{"ids", func(own, other *cvWS) store.Filter {
				return store.Filter{IDs: []int64{own.Conv["c1"], own.Conv["c3"], other.Conv["c2"]}}
			}, []string{"c3", "c1"}},
			{"ids only of the other workspace", func(own, other *cvWS) store.Filter {
				return store.Filter{IDs: []int64{other.Conv["c1"], other.Conv["c2"]}}
			}, nil},
			{"ids and type", func(own, other *cvWS) store.Filter {
				return store.Filter{IDs: []int64{own.Conv["c1"], own.Conv["c3"], own.Conv["c4"]}, Type: model.TypeWidget}
			}, []string{"c1"}},
			{"sort cost", func(own, other *cvWS) store.Filter { return store.Filter{Sort: "cost"} }, []string{"c3", "c1", "c2", "c6", "c5", "c8", "c7", "c4"}},
			{"sort cost, widget", func(own, other *cvWS) store.Filter { return store.Filter{Sort: "cost", Type: model.TypeWidget} }, []string{"c1", "c2", "c8"}},
			{"unknown sort is last", func(own, other *cvWS) store.Filter { return store.Filter{Sort: "weird"} }, all},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, pair := range [][2]*cvWS{{w1, w2}, {w2, w1}} {
					own, other := pair[0], pair[1]
					f := tc.f(own, other)
					rows, next, err := s.ListConversations(ctx, own.ID, f, "", 100)
					if err != nil {
						t.Fatalf("workspace %d: %v", own.ID, err)
					}
					if next != "" {
						t.Errorf("next cursor %q on a complete page", next)
					}
					var got []string
					for _, r := range rows {
						name, ok := own.Names[r.ID]
						if !ok || r.WorkspaceID != own.ID {
							t.Fatalf("workspace %d: row %d of workspace %d (%s) listed", own.ID, r.ID, r.WorkspaceID, other.Names[r.ID])
						}
						got = append(got, name)
					}
					if !slices.Equal(got, tc.want) {
						t.Errorf("workspace %d: got %v, want %v", own.ID, got, tc.want)
					}
					n, err := s.CountMatching(ctx, own.ID, f)
					if err != nil || n != int64(len(tc.want)) {
						t.Errorf("workspace %d: CountMatching = %d %v, want %d", own.ID, n, err, len(tc.want))
					}
				}
			})
		}

		t.Run("assistant name is joined", func(t *testing.T) {
			rows, _, err := s.ListConversations(ctx, w1.ID, store.Filter{IDs: []int64{w1.Conv["c1"], w1.Conv["c8"]}}, "", 10)
			if err != nil || len(rows) != 2 {
				t.Fatalf("%v %v", rows, err)
			}
			if rows[0].AssistantName != "" || rows[1].AssistantName != "One/A1" {
				t.Fatalf("assistant names %q %q", rows[0].AssistantName, rows[1].AssistantName)
			}
		})

		// Text typed by a user is searched for, never interpreted: no input errors.
		hostile := []struct {
			q    string
			want []string // nil: no match expected
		}{
			{`"`, nil},
			{`""`, nil},
			{`*`, nil},
			{`-`, nil},
			{`OR`, []string{"c8"}},
			{`or`, []string{"c8"}},
			{`NEAR(`, []string{"c8"}},
			{`NEAR(quick fox)`, nil},
			{`zebra OR dog`, nil},
			{`zebra"`, []string{"c3"}},
			{`"zebra`, []string{"c3"}},
			{`"zebra crossing"`, []string{"c3"}},
			{`fox*`, []string{"c1"}},
			{`-zebra`, []string{"c3"}},
			{`zebra AND`, nil},
			{`NOT zebra`, nil},
			{`(zebra`, []string{"c3"}},
			{`zebra)`, []string{"c3"}},
			{`content:zebra`, nil},
			{`^zebra`, []string{"c3"}},
			{`{content}: zebra`, nil},
			{`'; DROP TABLE messages; --`, nil},
			{`\`, nil},
			{`zebra & dog | !fox`, nil},
			{`'`, nil},
			{`?`, nil},
		}
		for _, h := range hostile {
			t.Run("query "+h.q, func(t *testing.T) {
				rows, _, err := s.ListConversations(ctx, w1.ID, store.Filter{Query: h.q}, "", 100)
				if err != nil {
					t.Fatalf("query %q: %v", h.q, err)
				}
				var got []string
				for _, r := range rows {
					if r.WorkspaceID != w1.ID {
						t.Fatalf("row of workspace %d", r.WorkspaceID)
					}
					got = append(got, w1.Names[r.ID])
				}
				if !slices.Equal(got, h.want) {
					t.Errorf("query %q: got %v, want %v", h.q, got, h.want)
				}
				if _, err := s.CountMatching(ctx, w1.ID, store.Filter{Query: h.q}); err != nil {
					t.Errorf("count %q: %v", h.q, err)
				}
			})
		}
		if n := cvCount(t, s, "messages", "workspace_id = ?", w1.ID); n != 9 {
			t.Fatalf("messages after hostile queries: %d, want 9", n)
		}
	})
}

// ---- 5. keyset cursor ----

func TestConvKeysetPagination(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1 := cvNewWS(t, s, "One")
		w2 := cvNewWS(t, s, "Two")
		var orig []store.Conversation
		for i := range 57 {
			// 19 distinct times, three conversations each, created out of time order; costs tie too.
			last := cvAt(time.Duration((i*7)%19) * time.Minute)
			c := w1.conv(t, s, "", store.Conversation{StartedAt: last, LastMessageAt: last, CostNanos: int64((i*5)%13) * 1000})
			orig = append(orig, *c)
			if i%3 == 0 {
				w2.conv(t, s, "", store.Conversation{StartedAt: last, LastMessageAt: last, CostNanos: int64((i*5)%13) * 1000})
			}
		}
		page := func(t *testing.T, f store.Filter, cursor string, limit int) ([]store.Conversation, string) {
			t.Helper()
			rows, next, err := s.ListConversations(ctx, w1.ID, f, cursor, limit)
			if err != nil {
				t.Fatalf("page after %q: %v", cursor, err)
			}
			if len(rows) > limit {
				t.Fatalf("%d rows for limit %d", len(rows), limit)
			}
			for _, r := range rows {
				if r.WorkspaceID != w1.ID {
					t.Fatalf("row %d of workspace %d", r.ID, r.WorkspaceID)
				}
			}
			return rows, next
		}

		for _, sortKey := range []string{"last", "cost"} {
			want := cvListOrder(orig, sortKey)
			for _, limit := range []int{1, 10, 19, 56, 57, 100} {
				t.Run(fmt.Sprintf("%s limit %d", sortKey, limit), func(t *testing.T) {
					f := store.Filter{Sort: sortKey}
					var got []int64
					cursor, pages := "", 0
					for {
						rows, next := page(t, f, cursor, limit)
						pages++
						got = append(got, cvIDs(rows)...)
						if next == "" {
							break
						}
						if len(rows) != limit {
							t.Fatalf("page %d: %d rows with a next cursor", pages, len(rows))
						}
						if pages > 100 {
							t.Fatal("pagination does not end")
						}
						cursor = next
					}
					cvEqualIDs(t, "pages", got, want)
					if wantPages := (57 + limit - 1) / limit; pages != wantPages {
						t.Errorf("%d pages, want %d", pages, wantPages)
					}
				})
			}
		}

		// Rows added while paging, all before page 1 (newer, or costlier, than everything):
		// later pages neither repeat nor skip a row of the original set.
		var added []store.Conversation
		for _, sortKey := range []string{"last", "cost"} {
			t.Run(sortKey+" with rows being added", func(t *testing.T) {
				want := cvListOrder(orig, sortKey)
				base := len(added)
				f := store.Filter{Sort: sortKey}
				var got []int64
				cursor := ""
				for pages := 0; ; pages++ {
					rows, next := page(t, f, cursor, 10)
					ids := cvIDs(rows)
					if pages == 0 {
						// Page 1 starts with the rows added by an earlier subtest.
						n := min(len(added), 10)
						cvEqualIDs(t, "first page", ids[:n], cvListOrder(added, sortKey)[:n])
						ids = ids[n:]
					}
					got = append(got, ids...)
					for range 3 {
						j := len(added) + 1
						last := cvAt(1000*time.Hour + time.Duration(j)*time.Minute)
						c := w1.conv(t, s, "", store.Conversation{StartedAt: last, LastMessageAt: last, CostNanos: 1_000_000_000 + int64(j)})
						added = append(added, *c)
					}
					if next == "" {
						break
					}
					if pages > 100 {
						t.Fatal("pagination does not end")
					}
					cursor = next
				}
				// Drop the rows added by an earlier subtest that fell past page 1.
				got = slices.DeleteFunc(got, func(id int64) bool {
					return slices.ContainsFunc(added[:base], func(c store.Conversation) bool { return c.ID == id })
				})
				cvEqualIDs(t, "original rows while adding", got, want)

				// A fresh walk sees everything exactly once, the new rows first.
				everything := cvListOrder(append(slices.Clone(orig), added...), sortKey)
				var fresh []int64
				cursor = ""
				for {
					rows, next := page(t, f, cursor, 10)
					fresh = append(fresh, cvIDs(rows)...)
					if next == "" {
						break
					}
					cursor = next
				}
				cvEqualIDs(t, "fresh walk", fresh, everything)
			})
		}

		t.Run("bad cursors", func(t *testing.T) {
			b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
			lastCur := store.Cursor{Sort: "last", Time: cvT0, ID: 5}.Encode()
			costCur := store.Cursor{Sort: "cost", Cost: 5, ID: 5}.Encode()
			msgCur := store.Cursor{Sort: "msg", Time: cvT0, ID: 5}.Encode()
			cases := []struct {
				name, cursor, sort string
				decodes            bool // DecodeCursor accepts it; only the sort is wrong
			}{
				{"abc", "abc", "last", false},
				{"abc on cost", "abc", "cost", false},
				{"cost cursor on last sort", costCur, "last", true},
				{"last cursor on cost sort", lastCur, "cost", true},
				{"msg cursor on last sort", msgCur, "last", true},
				{"msg cursor on cost sort", msgCur, "cost", true},
				{"non-numeric key", b64("last.x.1"), "last", false},
				{"non-numeric cost", b64("cost.x.1"), "cost", false},
				{"non-numeric id", b64("last.1.y"), "last", false},
				{"zero id", b64("last.1.0"), "last", false},
				{"negative id", b64("cost.1.-3"), "cost", false},
				{"two parts", b64("last.1"), "last", false},
				{"four parts", b64("last.1.2.3"), "last", false},
				{"unknown sort", b64("first.1.1"), "last", false},
				{"empty sort", b64(".1.1"), "last", false},
				{"padded base64", base64.URLEncoding.EncodeToString([]byte("last.1.1")), "last", false},
				{"std base64 alphabet", "+/+/", "last", false},
				{"not base64", "!!!", "last", false},
				{"spaces", "   ", "last", false},
				{"too long", strings.Repeat("A", 101), "last", false},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					_, err := store.DecodeCursor(c.cursor)
					if c.decodes != (err == nil) {
						t.Fatalf("DecodeCursor(%q) = %v, decodes want %v", c.cursor, err, c.decodes)
					}
					if err != nil && !errors.Is(err, store.ErrBadCursor) {
						t.Fatalf("DecodeCursor error %v is not ErrBadCursor", err)
					}
					rows, next, err := s.ListConversations(ctx, w1.ID, store.Filter{Sort: c.sort}, c.cursor, 10)
					if !errors.Is(err, store.ErrBadCursor) {
						t.Fatalf("ListConversations(%q): %v, want ErrBadCursor", c.cursor, err)
					}
					if rows != nil || next != "" {
						t.Fatalf("rows %v next %q with an error", rows, next)
					}
				})
			}
			if _, err := store.DecodeCursor(""); !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("DecodeCursor(\"\") = %v", err)
			}
			if rows, _, err := s.ListConversations(ctx, w1.ID, store.Filter{}, "", 10); err != nil || len(rows) != 10 {
				t.Errorf("empty cursor is the first page: %d rows %v", len(rows), err)
			}
			c := w1.conv(t, s, "", store.Conversation{})
			for _, cur := range []string{"abc", lastCur, costCur, b64("msg.x.1")} {
				if _, err := s.Messages(ctx, w1.ID, c.ID, cur, 10); !errors.Is(err, store.ErrBadCursor) {
					t.Errorf("Messages(%q): %v, want ErrBadCursor", cur, err)
				}
			}
		})
	})
}

func TestConvCursorRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		c    store.Cursor
		want store.Cursor
	}{
		{"last", store.Cursor{Sort: "last", Time: cvAt(90 * time.Second), ID: 42}, store.Cursor{Sort: "last", Time: cvAt(90 * time.Second), ID: 42}},
		{"last with microseconds", store.Cursor{Sort: "last", Time: cvAt(123456 * time.Microsecond), ID: 1}, store.Cursor{Sort: "last", Time: cvAt(123456 * time.Microsecond), ID: 1}},
		{"last with nanoseconds truncates", store.Cursor{Sort: "last", Time: cvAt(123456789 * time.Nanosecond), ID: 7}, store.Cursor{Sort: "last", Time: cvAt(123456 * time.Microsecond), ID: 7}},
		{"last in another zone", store.Cursor{Sort: "last", Time: cvT0.In(time.FixedZone("X", -7*3600)), ID: 3}, store.Cursor{Sort: "last", Time: cvT0, ID: 3}},
		{"before 1970", store.Cursor{Sort: "last", Time: time.Date(1960, 1, 1, 0, 0, 0, 1000, time.UTC), ID: 9}, store.Cursor{Sort: "last", Time: time.Date(1960, 1, 1, 0, 0, 0, 1000, time.UTC), ID: 9}},
		{"msg", store.Cursor{Sort: "msg", Time: cvAt(time.Hour), ID: 1 << 40}, store.Cursor{Sort: "msg", Time: cvAt(time.Hour), ID: 1 << 40}},
		{"cost", store.Cursor{Sort: "cost", Cost: 123456789012, ID: 99}, store.Cursor{Sort: "cost", Cost: 123456789012, ID: 99}},
		{"cost zero", store.Cursor{Sort: "cost", Cost: 0, ID: 1}, store.Cursor{Sort: "cost", Cost: 0, ID: 1}},
		{"cost ignores time", store.Cursor{Sort: "cost", Cost: 5, Time: cvT0, ID: 2}, store.Cursor{Sort: "cost", Cost: 5, ID: 2}},
		{"last ignores cost", store.Cursor{Sort: "last", Cost: 5, Time: cvT0, ID: 2}, store.Cursor{Sort: "last", Time: cvT0, ID: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := c.c.Encode()
			if enc == "" || strings.ContainsAny(enc, "+/=. ") {
				t.Fatalf("encoding %q is not opaque and URL-safe", enc)
			}
			got, err := store.DecodeCursor(enc)
			if err != nil {
				t.Fatalf("decode %q: %v", enc, err)
			}
			if got.Sort != c.want.Sort || got.ID != c.want.ID || got.Cost != c.want.Cost || !got.Time.Equal(c.want.Time) {
				t.Fatalf("round trip = %+v, want %+v", got, c.want)
			}
			if !got.Time.IsZero() && got.Time.Location() != time.UTC {
				t.Fatalf("decoded time not UTC: %v", got.Time)
			}
			if again := got.Encode(); again != enc {
				t.Fatalf("re-encoding %q != %q", again, enc)
			}
		})
	}
}

// ---- 6. messages, AllMessages, EachConversation ----

func TestConvMessagesPaging(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1 := cvNewWS(t, s, "One")
		w2 := cvNewWS(t, s, "Two")
		small := w1.conv(t, s, "small", store.Conversation{StartedAt: cvAt(-time.Hour)})
		big := w1.conv(t, s, "big", store.Conversation{StartedAt: cvAt(-time.Hour)})
		empty := w1.conv(t, s, "empty", store.Conversation{StartedAt: cvAt(-time.Hour)})
		neighbour := w1.conv(t, s, "neighbour", store.Conversation{StartedAt: cvAt(-time.Hour)})
		foreign := w2.conv(t, s, "foreign", store.Conversation{StartedAt: cvAt(-time.Hour)})

		// small: 23 messages through AddMessage, out of order, in pairs of equal times.
		var smallMsgs []store.Message
		for i := range 23 {
			p := (i * 5) % 23
			m := &store.Message{WorkspaceID: w1.ID, ConversationID: small.ID, Role: []string{"user", "assistant"}[i%2],
				Content: fmt.Sprintf("small %d", p), CreatedAt: cvAt(time.Duration(p/2) * time.Second)}
			cvAdd(t, s, m)
			smallMsgs = append(smallMsgs, *m)
			cvAdd(t, s, &store.Message{WorkspaceID: w1.ID, ConversationID: neighbour.ID, Role: "user", Content: "n", CreatedAt: m.CreatedAt})
			cvAdd(t, s, &store.Message{WorkspaceID: w2.ID, ConversationID: foreign.ID, Role: "user", Content: "f", CreatedAt: m.CreatedAt})
		}
		// big: 1001 messages inserted in one statement, in triples of equal times (one triple
		// straddles the 500-row batch of AllMessages), ids not in time order.
		var bulk []store.Message
		for i := range 1001 {
			p := (i * 17) % 1001
			bulk = append(bulk, store.Message{WorkspaceID: w1.ID, ConversationID: big.ID, Role: "user", ContentType: "text",
				Content: fmt.Sprintf("big %d", p), CreatedAt: cvAt(time.Duration(p/3) * time.Millisecond)})
		}
		if _, err := s.DB.NewInsert().Model(&bulk).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var bigMsgs []store.Message
		if err := s.DB.NewSelect().Model(&bigMsgs).Where("conversation_id = ?", big.ID).Scan(ctx); err != nil || len(bigMsgs) != 1001 {
			t.Fatalf("bulk messages: %d %v", len(bigMsgs), err)
		}

		convs := []struct {
			name string
			id   int64
			want []int64
		}{
			{"small", small.ID, cvMsgOrder(smallMsgs)},
			{"big", big.ID, cvMsgOrder(bigMsgs)},
			{"empty", empty.ID, nil},
		}
		for _, cv := range convs {
			for _, limit := range []int{1, 5, 7, 22, 23, 24, 100, 500} {
				if cv.name == "big" && limit < 100 {
					continue
				}
				t.Run(fmt.Sprintf("%s limit %d", cv.name, limit), func(t *testing.T) {
					var got []int64
					cursor, pages := "", 0
					for {
						p, err := s.Messages(ctx, w1.ID, cv.id, cursor, limit)
						if err != nil {
							t.Fatal(err)
						}
						pages++
						if len(p.Messages) > limit {
							t.Fatalf("%d messages for limit %d", len(p.Messages), limit)
						}
						ids := cvMsgIDs(p.Messages)
						cvEqualIDs(t, "page oldest first", ids, cvMsgOrder(p.Messages))
						if pages == 1 {
							n := min(limit, len(cv.want))
							cvEqualIDs(t, "first page is the newest", ids, cv.want[len(cv.want)-n:])
						}
						for _, m := range p.Messages {
							if m.ConversationID != cv.id || m.WorkspaceID != w1.ID {
								t.Fatalf("message %d of conversation %d", m.ID, m.ConversationID)
							}
						}
						got = append(ids, got...)
						if p.HasOlder != (p.OlderCursor != "") {
							t.Fatalf("HasOlder %v with cursor %q", p.HasOlder, p.OlderCursor)
						}
						if !p.HasOlder {
							break
						}
						if len(p.Messages) != limit {
							t.Fatalf("short page (%d) with older messages", len(p.Messages))
						}
						if pages > 2000 {
							t.Fatal("paging does not end")
						}
						cursor = p.OlderCursor
					}
					cvEqualIDs(t, "all pages", got, cv.want)
					wantPages := max(1, (len(cv.want)+limit-1)/limit)
					if pages != wantPages {
						t.Errorf("%d pages, want %d", pages, wantPages)
					}
				})
			}
			t.Run(cv.name+" AllMessages", func(t *testing.T) {
				var got []int64
				err := s.AllMessages(ctx, w1.ID, cv.id, func(m *store.Message) error {
					if m.ConversationID != cv.id {
						return fmt.Errorf("message %d of conversation %d", m.ID, m.ConversationID)
					}
					got = append(got, m.ID)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				cvEqualIDs(t, "AllMessages", got, cv.want)
			})
		}

		t.Run("content survives", func(t *testing.T) {
			p, err := s.Messages(ctx, w1.ID, small.ID, "", 1)
			if err != nil || len(p.Messages) != 1 {
				t.Fatal(p, err)
			}
			if p.Messages[0].Content != "small 22" || !p.Messages[0].CreatedAt.Equal(cvAt(11*time.Second)) {
				t.Fatalf("newest message %+v", p.Messages[0])
			}
		})
		t.Run("AllMessages stops on error", func(t *testing.T) {
			stop := errors.New("stop")
			n := 0
			err := s.AllMessages(ctx, w1.ID, big.ID, func(*store.Message) error {
				n++
				if n == 600 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || n != 600 {
				t.Fatalf("err %v after %d", err, n)
			}
		})
		t.Run("another workspace sees nothing", func(t *testing.T) {
			p, err := s.Messages(ctx, w2.ID, small.ID, "", 10)
			if err != nil || len(p.Messages) != 0 || p.HasOlder {
				t.Fatalf("%+v %v", p, err)
			}
			n := 0
			if err := s.AllMessages(ctx, w2.ID, big.ID, func(*store.Message) error { n++; return nil }); err != nil || n != 0 {
				t.Fatalf("AllMessages across workspaces: %d %v", n, err)
			}
			if _, err := s.MessageByID(ctx, w2.ID, smallMsgs[0].ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("MessageByID across workspaces: %v", err)
			}
		})
	})
}

func TestConvEachConversation(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1 := cvNewWS(t, s, "One")
		w2 := cvNewWS(t, s, "Two")
		var widgets []store.Conversation
		for i := range 30 {
			last := cvAt(time.Duration((i*7)%11) * time.Minute) // ties
			c := w1.conv(t, s, "", store.Conversation{Type: model.TypeWidget, StartedAt: last, LastMessageAt: last})
			widgets = append(widgets, *c)
			if i%3 == 0 {
				w1.conv(t, s, "", store.Conversation{Type: model.TypeTest, StartedAt: last, LastMessageAt: last})
				w2.conv(t, s, "", store.Conversation{Type: model.TypeWidget, StartedAt: last, LastMessageAt: last})
			}
		}
		want := cvListOrder(widgets, "last")
		for _, batch := range []int{7, 1, 10, 29, 30, 31} {
			t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
				var got []int64
				err := s.EachConversation(ctx, w1.ID, store.Filter{Type: model.TypeWidget}, batch, func(c *store.Conversation) error {
					if c.WorkspaceID != w1.ID || c.Type != model.TypeWidget {
						return fmt.Errorf("visited %d (workspace %d, %s)", c.ID, c.WorkspaceID, c.Type)
					}
					got = append(got, c.ID)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				cvEqualIDs(t, "visited", got, want)
			})
		}
		t.Run("sort cost", func(t *testing.T) {
			n := 0
			if err := s.EachConversation(ctx, w1.ID, store.Filter{Type: model.TypeWidget, Sort: "cost"}, 7, func(*store.Conversation) error { n++; return nil }); err != nil || n != 30 {
				t.Fatalf("visited %d %v", n, err)
			}
		})
		t.Run("stops on error", func(t *testing.T) {
			stop := errors.New("stop")
			n := 0
			err := s.EachConversation(ctx, w1.ID, store.Filter{Type: model.TypeWidget}, 7, func(*store.Conversation) error {
				n++
				if n == 9 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || n != 9 {
				t.Fatalf("err %v after %d", err, n)
			}
		})
	})
}

// ---- 7. DeleteMatching ----

func TestConvDeleteMatching(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1 := cvNewWS(t, s, "One")
		w2 := cvNewWS(t, s, "Two")
		fill := func(w *cvWS, typ, customer, word string, i int) *store.Conversation {
			last := cvAt(time.Duration(i%5) * time.Minute)
			c := w.conv(t, s, customer, store.Conversation{Type: typ, Customer: customer, StartedAt: last.Add(-time.Minute), LastMessageAt: last.Add(-time.Minute)})
			m := &store.Message{WorkspaceID: w.ID, ConversationID: c.ID, Role: "user", Content: word + " me please", CreatedAt: last}
			cvAdd(t, s, m)
			cvAdd(t, s, &store.Message{WorkspaceID: w.ID, ConversationID: c.ID, Role: "assistant", Content: "ok", CreatedAt: last})
			if err := s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: w.ID, ConversationID: c.ID, Name: "k", Value: customer, Source: "extracted", MessageID: &m.ID}); err != nil {
				t.Fatal(err)
			}
			return c
		}
		var doomed, kept []int64
		for i := range 23 {
			doomed = append(doomed, fill(w1, model.TypeWidget, fmt.Sprintf("del-%02d", i), "purge", i).ID)
			fill(w2, model.TypeWidget, fmt.Sprintf("del-%02d", i), "purge", i)
		}
		for i := range 6 {
			word := "keep"
			if i < 2 {
				word = "special"
			}
			kept = append(kept, fill(w1, model.TypeWidget, fmt.Sprintf("keep-%02d", i), word, i).ID)
		}
		for i := range 4 {
			kept = append(kept, fill(w1, model.TypeTest, fmt.Sprintf("del-x%d", i), "purge", i).ID)
		}
		w2counts := map[string]int64{model.TypeWidget: 23}
		cvCheckCounts(t, s, w1.ID, map[string]int64{model.TypeWidget: 29, model.TypeTest: 4})
		cvCheckCounts(t, s, w2.ID, w2counts)

		f := store.Filter{Type: model.TypeWidget, Customer: "del-"}
		left := 23
		for round, want := range []int{10, 10, 3, 0, 0} {
			t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
				n, err := s.DeleteMatching(ctx, w1.ID, f, 10)
				if err != nil || n != want {
					t.Fatalf("deleted %d %v, want %d", n, err, want)
				}
				left -= n
				if m, err := s.CountMatching(ctx, w1.ID, f); err != nil || m != int64(left) {
					t.Fatalf("still matching %d %v, want %d", m, err, left)
				}
				cvCheckCounts(t, s, w1.ID, map[string]int64{model.TypeWidget: int64(6 + left), model.TypeTest: 4})
				cvCheckCounts(t, s, w2.ID, w2counts)
				if m, _ := s.CountMatching(ctx, w2.ID, f); m != 23 {
					t.Fatalf("other workspace matching %d, want 23", m)
				}
			})
		}

		t.Run("children of deleted conversations are gone", func(t *testing.T) {
			for _, id := range doomed {
				if _, err := s.GetConversation(ctx, w1.ID, id); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("conversation %d: %v", id, err)
				}
				if n := cvCount(t, s, "messages", "conversation_id = ?", id); n != 0 {
					t.Fatalf("conversation %d: %d messages left", id, n)
				}
				if n := cvCount(t, s, "conversation_variables", "conversation_id = ?", id); n != 0 {
					t.Fatalf("conversation %d: %d variables left", id, n)
				}
			}
			for _, id := range kept {
				if n := cvCount(t, s, "messages", "conversation_id = ?", id); n != 2 {
					t.Fatalf("kept conversation %d: %d messages", id, n)
				}
				if n := cvCount(t, s, "conversation_variables", "conversation_id = ?", id); n != 1 {
					t.Fatalf("kept conversation %d: %d variables", id, n)
				}
			}
			if n := cvCount(t, s, "messages", "workspace_id = ?", w2.ID); n != 46 {
				t.Fatalf("other workspace messages: %d, want 46", n)
			}
			if n := cvCount(t, s, "conversation_variables", "workspace_id = ?", w2.ID); n != 23 {
				t.Fatalf("other workspace variables: %d, want 23", n)
			}
			// Search no longer finds the deleted messages; the test-type ones still match.
			rows, _, err := s.ListConversations(ctx, w1.ID, store.Filter{Query: "purge"}, "", 100)
			if err != nil || len(rows) != 4 {
				t.Fatalf("search after delete: %d rows %v", len(rows), err)
			}
			if s.Dialect == store.SQLite {
				var n int
				if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'purge'").Scan(&n); err != nil || n != 23+4 {
					t.Fatalf("fts rows for purge: %d %v, want 27", n, err)
				}
			}
		})

		t.Run("by search, ids and across workspaces", func(t *testing.T) {
			n, err := s.DeleteMatching(ctx, w1.ID, store.Filter{Query: "special"}, 10)
			if err != nil || n != 2 {
				t.Fatalf("search delete: %d %v, want 2", n, err)
			}
			if n, err := s.DeleteMatching(ctx, w1.ID, store.Filter{Query: "special"}, 10); err != nil || n != 0 {
				t.Fatalf("search delete again: %d %v, want 0", n, err)
			}
			w2ids := slices.Collect(maps.Values(w2.Conv))
			if n, err := s.DeleteMatching(ctx, w1.ID, store.Filter{IDs: w2ids}, 100); err != nil || n != 0 {
				t.Fatalf("deleting another workspace's ids: %d %v", n, err)
			}
			mixed := []int64{kept[2], kept[3], w2ids[0], w2ids[1]}
			if n, err := s.DeleteMatching(ctx, w1.ID, store.Filter{IDs: mixed}, 100); err != nil || n != 2 {
				t.Fatalf("mixed ids: %d %v, want 2", n, err)
			}
			cvCheckCounts(t, s, w1.ID, map[string]int64{model.TypeWidget: 2, model.TypeTest: 4})
			cvCheckCounts(t, s, w2.ID, w2counts)
			if n := cvCount(t, s, "messages", "workspace_id = ?", w1.ID); n != 12 {
				t.Fatalf("workspace 1 messages: %d, want 12", n)
			}
		})

		t.Run("DeleteConversation cascades", func(t *testing.T) {
			id := kept[4]
			if err := s.DeleteConversation(ctx, w1.ID, id); err != nil {
				t.Fatal(err)
			}
			if n := cvCount(t, s, "messages", "conversation_id = ?", id); n != 0 {
				t.Fatalf("%d messages left", n)
			}
			if n := cvCount(t, s, "conversation_variables", "conversation_id = ?", id); n != 0 {
				t.Fatalf("%d variables left", n)
			}
			cvCheckCounts(t, s, w1.ID, map[string]int64{model.TypeWidget: 1, model.TypeTest: 4})
		})
	})
}
