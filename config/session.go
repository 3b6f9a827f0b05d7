package config

import (
	"fmt"
	"strings"
	"time"
)

// Dashboard session defaults: 12 hours idle, 30 days from the login.
const (
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 30 * 24 * time.Hour
)

// loadSession reads the dashboard sessions' idle timeout and absolute lifetime.
func (c *Config) loadSession(getenv func(string) string) error {
	var err error
	if c.SessionMax, err = durationVar(getenv, "PARLEY_SESSION_MAX", DefaultSessionMax, time.Minute, 8760*time.Hour, "1m to 8760h", "720h"); err != nil {
		return err
	}
	if c.SessionIdle, err = durationVar(getenv, "PARLEY_SESSION_IDLE", DefaultSessionIdle, time.Minute, 720*time.Hour, "1m to 720h", "12h"); err != nil {
		return err
	}
	if c.SessionIdle > c.SessionMax {
		if strings.TrimSpace(getenv("PARLEY_SESSION_IDLE")) == "" {
			c.SessionIdle = c.SessionMax // a short PARLEY_SESSION_MAX alone shortens the default idle time
		} else {
			return &Error{"PARLEY_SESSION_IDLE", fmt.Sprintf("%s is longer than PARLEY_SESSION_MAX (%s): a session cannot stay idle longer than it lives", c.SessionIdle, c.SessionMax)}
		}
	}
	return nil
}

// durationVar reads a Go duration from least to most (rangeText says it) (def when unset); anything else is an
// error naming the variable, with the range and an example.
func durationVar(getenv func(string) string, name string, def, least, most time.Duration, rangeText, example string) (time.Duration, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < least || d > most {
		return 0, &Error{name, fmt.Sprintf("%q is not a duration from %s (for example %s)", s, rangeText, example)}
	}
	return d, nil
}
