package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionDurations(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionIdle != 12*time.Hour || c.SessionMax != 30*24*time.Hour {
		t.Fatalf("defaults: idle %s, max %s", c.SessionIdle, c.SessionMax)
	}
	c, err = Load(env(map[string]string{"PARLEY_SESSION_IDLE": "30m", "PARLEY_SESSION_MAX": "168h"}))
	if err != nil || c.SessionIdle != 30*time.Minute || c.SessionMax != 168*time.Hour {
		t.Fatalf("set: %v %v", c, err)
	}
	// A short lifetime alone shortens the default idle time with it.
	c, err = Load(env(map[string]string{"PARLEY_SESSION_MAX": "2h"}))
	if err != nil || c.SessionIdle != 2*time.Hour {
		t.Fatalf("short max: %v %v", c, err)
	}
	for _, tc := range []struct{ idle, max, bad string }{
		{"soon", "", "PARLEY_SESSION_IDLE"},
		{"30s", "", "PARLEY_SESSION_IDLE"},
		{"721h", "", "PARLEY_SESSION_IDLE"},
		{"-1h", "", "PARLEY_SESSION_IDLE"},
		{"", "forever", "PARLEY_SESSION_MAX"},
		{"", "0", "PARLEY_SESSION_MAX"},
		{"", "8761h", "PARLEY_SESSION_MAX"},
		{"2h", "1h", "PARLEY_SESSION_IDLE"}, // idle longer than the lifetime
	} {
		_, err := Load(env(map[string]string{"PARLEY_SESSION_IDLE": tc.idle, "PARLEY_SESSION_MAX": tc.max}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.bad || !strings.Contains(err.Error(), tc.bad+": ") {
			t.Errorf("idle %q max %q: %v, want an error naming %s", tc.idle, tc.max, err, tc.bad)
		}
	}
}
