package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultInboundRetention is how long processed raw inbound events are kept.
const DefaultInboundRetention = 7 * 24 * time.Hour

// Bounds of PARLEY_INBOUND_RETENTION.
const (
	MinInboundRetention = time.Minute
	MaxInboundRetention = 3650 * 24 * time.Hour
)

// DefaultAuditRetention is how long audit log entries are kept.
const DefaultAuditRetention = 365 * 24 * time.Hour

// loadInbound reads PARLEY_INBOUND_RETENTION and PARLEY_AUDIT_RETENTION.
func (c *Config) loadInbound(getenv func(string) string) error {
	var err error
	if c.InboundRetention, err = loadRetention(getenv, "PARLEY_INBOUND_RETENTION", DefaultInboundRetention); err != nil {
		return err
	}
	c.AuditRetention, err = loadRetention(getenv, "PARLEY_AUDIT_RETENTION", DefaultAuditRetention)
	return err
}

// loadRetention reads a retention variable: a Go duration (168h) or a whole number of days
// (7d), from 1m to 3650d; def when unset.
func loadRetention(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	d, ok := durationOrDays(s)
	if !ok || d < MinInboundRetention || d > MaxInboundRetention {
		return 0, &Error{name, fmt.Sprintf("%q is not a duration from 1m to 3650d (for example 7d or 72h)", s)}
	}
	return d, nil
}

// durationOrDays parses a Go duration, or a whole number of days written as "<n>d".
func durationOrDays(s string) (time.Duration, bool) {
	if n, found := strings.CutSuffix(s, "d"); found {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}
