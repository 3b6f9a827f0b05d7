package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// PARLEY_INBOUND_RETENTION: 7 days by default, a Go duration or days, refused with the house
// configuration error (naming the variable) when it is not one or out of bounds.
func TestLoadInboundRetention(t *testing.T) {
	cases := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", 7 * 24 * time.Hour, false},
		{"30d", 30 * 24 * time.Hour, false},
		{" 72h ", 72 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"1m", time.Minute, false},
		{"3650d", 3650 * 24 * time.Hour, false},
		{"30s", 0, true},
		{"0d", 0, true},
		{"-1d", 0, true},
		{"3651d", 0, true},
		{"seven days", 0, true},
		{"7 d", 0, true},
		{"d", 0, true},
		{"1.5d", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			c, err := Load(env(map[string]string{"PARLEY_INBOUND_RETENTION": tc.value}))
			if !tc.wantErr {
				if err != nil || c.InboundRetention != tc.want {
					t.Fatalf("got %v, %v; want %s", c, err, tc.want)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != "PARLEY_INBOUND_RETENTION" || !strings.HasPrefix(err.Error(), "PARLEY_INBOUND_RETENTION: ") {
				t.Fatalf("want an error naming PARLEY_INBOUND_RETENTION, got %v", err)
			}
		})
	}
}

// PARLEY_AUDIT_RETENTION: 365 days by default, parsed as PARLEY_INBOUND_RETENTION is.
func TestLoadAuditRetention(t *testing.T) {
	c, err := Load(env(map[string]string{}))
	if err != nil || c.AuditRetention != 365*24*time.Hour {
		t.Fatalf("default: got %v, %v", c, err)
	}
	c, err = Load(env(map[string]string{"PARLEY_AUDIT_RETENTION": "30d"}))
	if err != nil || c.AuditRetention != 30*24*time.Hour {
		t.Fatalf("30d: got %v, %v", c, err)
	}
	for _, bad := range []string{"0d", "3651d", "a year", "30s"} {
		_, err := Load(env(map[string]string{"PARLEY_AUDIT_RETENTION": bad}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != "PARLEY_AUDIT_RETENTION" {
			t.Fatalf("%q: want an error naming PARLEY_AUDIT_RETENTION, got %v", bad, err)
		}
	}
}
