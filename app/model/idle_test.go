package model

import (
	"testing"
	"time"
)

func TestIdleRule(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	idle := IdleTimes{Widget: 30 * time.Minute, WhatsApp: 24 * time.Hour, Test: 10 * time.Minute}
	cases := []struct {
		typ  string
		ago  time.Duration
		want bool
	}{
		{TypeWidget, 30 * time.Minute, true}, // exactly the idle time: idle
		{TypeWidget, 30*time.Minute - time.Second, false},
		{TypeWhatsApp, 23 * time.Hour, false},
		{TypeWhatsApp, 25 * time.Hour, true},
		{TypeTest, 11 * time.Minute, true},
		{"unknown", 1000 * time.Hour, false}, // no idle time: never idle
	}
	for _, c := range cases {
		last := now.Add(-c.ago)
		d := idle.For(c.typ)
		if got := Idle(last, now, d); got != c.want {
			t.Errorf("%s idle for %s: %v, want %v", c.typ, c.ago, got, c.want)
		}
		// The store's query (last message no later than the cutoff) is the same rule.
		if d > 0 && !last.After(IdleCutoff(now, d)) != c.want {
			t.Errorf("%s %s: the cutoff disagrees", c.typ, c.ago)
		}
		if d > 0 && !IdleEnd(last, d).Equal(last.Add(d)) {
			t.Errorf("%s: idle end", c.typ)
		}
	}
}
