package model

import (
	"encoding/json"
	"time"
)

// Workspace is a tenant: every row belongs to one.
type Workspace struct {
	ID        int64
	Name      string
	Settings  Settings
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Settings is the workspace's settings document (the workspaces.settings JSON column, decoded
// by the store). Keys this version does not know are kept as they are, so that an older
// process saving one section never drops another's.
type Settings struct {
	// RetentionDays is, per conversation type, how many days of inactivity a conversation is
	// kept ("retention_days"); nil when never set.
	RetentionDays map[string]int
	// Prices is the workspace's own price entries ("prices") as stored; app/usage parses and
	// validates them. Empty when there are none.
	Prices json.RawMessage
	// Extra holds the keys Settings does not know.
	Extra map[string]json.RawMessage
}

// UnmarshalJSON reads a settings document; "" and "null" are empty settings.
func (s *Settings) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*s = Settings{}
	for k, v := range m {
		switch k {
		case "retention_days":
			if string(v) == "null" {
				continue
			}
			if err := json.Unmarshal(v, &s.RetentionDays); err != nil {
				return err
			}
		case "prices":
			if string(v) != "null" {
				s.Prices = v
			}
		default:
			if s.Extra == nil {
				s.Extra = map[string]json.RawMessage{}
			}
			s.Extra[k] = v
		}
	}
	return nil
}

// MarshalJSON writes the document with its keys sorted; a section that is not set is left out.
func (s Settings) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(s.Extra)+2)
	for k, v := range s.Extra {
		m[k] = v
	}
	if s.RetentionDays != nil {
		m["retention_days"] = s.RetentionDays
	}
	if len(s.Prices) > 0 {
		m["prices"] = s.Prices
	}
	return json.Marshal(m)
}
