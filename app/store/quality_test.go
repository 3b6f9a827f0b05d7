package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// The watermark is one row; the touched days are the days of what changed since a time: every
// end of a conversation with a run finished since, CSAT answers and feedback.
func TestQualityWatermarkAndTouchedDays(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if at, err := s.Watermark(ctx, store.QualityWatermarkName); err != nil || !at.IsZero() {
			t.Fatalf("no watermark yet: %v %v", at, err)
		}
		mark := time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC)
		for _, at := range []time.Time{mark.Add(-time.Hour), mark} {
			if err := s.SetWatermark(ctx, store.QualityWatermarkName, at); err != nil {
				t.Fatal(err)
			}
		}
		if at, err := s.Watermark(ctx, store.QualityWatermarkName); err != nil || !at.Equal(mark) {
			t.Fatalf("watermark %v, want %v (%v)", at, mark, err)
		}

		ws := asWS(t, s, "Quality")
		d1 := time.Date(2026, 11, 20, 23, 59, 0, 0, time.UTC)
		c := wgConv(t, s, ws, nil, model.TypeWidget, "v", d1.Add(-time.Hour))
		if _, err := s.EndConversation(ctx, ws, c.ID, model.EndIdle, d1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: model.RoleUser, Content: "again", CreatedAt: d1.Add(2 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndConversation(ctx, ws, c.ID, model.EndIdle, d1.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		since := time.Now().UTC().Add(-time.Minute)
		if days, err := s.QualityTouchedDays(ctx, since); err != nil || len(days) != 0 {
			t.Fatalf("nothing finished yet: %v %v", days, err)
		}
		old, fresh := since.Add(-time.Hour), time.Now().UTC()
		r := &store.EvaluationRun{WorkspaceID: ws, ConversationID: c.ID, EndSeq: 2, Status: model.EvalDone, CreatedAt: old, FinishedAt: &old}
		if _, err := s.DB.NewInsert().Model(r).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if days, err := s.QualityTouchedDays(ctx, since); err != nil || len(days) != 0 {
			t.Fatalf("a run finished before the watermark: %v %v", days, err)
		}
		r2 := &store.EvaluationRun{WorkspaceID: ws, ConversationID: c.ID, EndSeq: 2, Run: 1, Status: model.EvalDone, CreatedAt: fresh, FinishedAt: &fresh}
		if _, err := s.DB.NewInsert().Model(r2).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		csatAt := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
		if _, err := s.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("csat_score = 4").Set("csat_at = ?", csatAt).Where("id = ?", c.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		days, err := s.QualityTouchedDays(ctx, since.Add(-24*time.Hour*365*2)) // the CSAT's day is in 2026
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(days); got != fmt.Sprintf("[{%d 2026-11-20} {%d 2026-11-22} {%d 2026-11-23}]", ws, ws, ws) {
			t.Fatalf("touched days: %s", got)
		}
	})
}

// Recomputations of the same day running at once leave the rows the sources say, once.
func TestConcurrentQualityRecomputations(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "Quality")
		at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		for i := range 5 {
			c := wgConv(t, s, ws, nil, model.TypeWidget, fmt.Sprint("v", i), at.Add(-time.Hour))
			if _, err := s.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("csat_score = ?", 1+i).Set("csat_at = ?", at).Where("id = ?", c.ID).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.RecomputeQualityDay(ctx, ws, "2026-11-20", nil); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rows, err := s.QualityRollups(ctx, ws, "2026-11-20", "2026-11-21")
		if err != nil || len(rows) != 1 || rows[0].Metric != store.QualityCSAT || rows[0].N != 5 || rows[0].Total != 15 || rows[0].AssistantID != 0 {
			t.Fatalf("rows: %+v %v", rows, err)
		}
		if changed, err := s.RecomputeQualityDay(ctx, ws, "2026-11-20", nil); err != nil || changed {
			t.Fatalf("again: %v %v", changed, err)
		}
		if _, err := s.RecomputeQualityDay(ctx, ws, "20 Nov", nil); err == nil {
			t.Fatal("a day that is not YYYY-MM-DD is refused")
		}
	})
}
