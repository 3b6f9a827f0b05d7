package analytics

import (
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Replays and test set runs are real spend: counted in the cost and tokens (under their
// assistant), shown apart as their own purpose, and never as a conversation type.
func TestBuildShowsReplaySpendApart(t *testing.T) {
	rng := NewRange(7, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	rows := []store.UsageDaily{
		{WorkspaceID: 1, Day: "2026-11-25", AssistantID: 1, Type: model.TypeWidget, Conversations: 2, Messages: 6, LLMCalls: 3, PromptTokens: 300, CompletionTokens: 30, CostNanos: 3_000_000},
		{WorkspaceID: 1, Day: "2026-11-25", AssistantID: 1, Type: store.RollupTypeReplay, LLMCalls: 4, PromptTokens: 400, CompletionTokens: 40, CostNanos: 1_500_000},
		{WorkspaceID: 1, Day: "2026-11-24", AssistantID: 1, Type: store.RollupTypeReplay, LLMCalls: 1, PromptTokens: 100, CompletionTokens: 10, CostNanos: 500_000},
	}
	rep := Build(rng, rows, map[int64]string{1: "Support"}, nil)
	if tt := rep.Totals; tt.CostNanos != 5_000_000 || tt.LLMCalls != 8 || tt.ReplayCostNanos != 2_000_000 || tt.ReplayCalls != 5 || tt.Conversations != 2 {
		t.Fatalf("totals: %+v", tt)
	}
	cost, _ := rep.Chart(ChartCost)
	if len(cost.Series) != 1 || cost.Series[0].Values[6] != 4_500_000 || cost.Series[0].Values[5] != 500_000 {
		t.Fatalf("cost series: %+v", cost.Series)
	}
	if !strings.Contains(cost.Summary, "$0.002 of it in 5 calls of replays and test set runs") {
		t.Errorf("cost summary: %q", cost.Summary)
	}
	for _, id := range []string{ChartConversations, ChartMessages} {
		ch, _ := rep.Chart(id)
		for _, s := range ch.Series {
			if !conversationType(s.Key) {
				t.Errorf("%s: a series that is no conversation type: %+v", id, s)
			}
		}
	}
	// Without replays the summary says the total only.
	rep = Build(rng, rows[:1], nil, nil)
	if cost, _ := rep.Chart(ChartCost); strings.Contains(cost.Summary, "replays") {
		t.Errorf("cost summary without replays: %q", cost.Summary)
	}
}

func conversationType(k string) bool {
	return k == model.TypeTest || k == model.TypeWidget || k == model.TypeWhatsApp
}
