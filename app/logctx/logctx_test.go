package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/logctx"
)

func TestHandlerAddsTheContextFields(t *testing.T) {
	var buf bytes.Buffer
	log := logctx.Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	if logctx.Logger(log) != log {
		t.Fatal("wrapping twice must keep one wrapper")
	}
	ctx := logctx.WithRequestID(context.Background(), "req-1")
	ctx = logctx.With(ctx, logctx.Fields{Task: "inbound:process", TaskID: "inbound:7"})
	ctx = logctx.WithRequestID(ctx, "") // an empty id keeps the one carried
	log.With("role", "worker").InfoContext(ctx, "one")
	log.InfoContext(ctx, "two", "request_id", "explicit")
	log.Info("three") // no context: nothing added

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if l := lines[0]; l["request_id"] != "req-1" || l["task"] != "inbound:process" || l["task_id"] != "inbound:7" || l["role"] != "worker" {
		t.Fatalf("one: %v", l)
	}
	if l := lines[1]; l["request_id"] != "explicit" || strings.Count(buf.String(), `"request_id"`) != 2 {
		t.Fatalf("two: the record's own request_id wins, once: %v\n%s", l, buf.String())
	}
	if l := lines[2]; l["request_id"] != nil || l["task"] != nil {
		t.Fatalf("three: %v", l)
	}
	if got := logctx.RequestID(ctx); got != "req-1" {
		t.Fatalf("RequestID: %q", got)
	}
}
