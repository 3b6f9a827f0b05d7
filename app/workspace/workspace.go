// Package workspace owns a workspace's settings: their typed form (retention per conversation
// type, the workspace's own price entries) and the one way to change them, Modify, which reads,
// changes and writes them in one transaction so that two saves of different sections never
// lose each other's change.
//
// It may use app/store (the only SQL) and app/usage (price entries); it never imports app/web,
// views or workers, and no other package writes the settings JSON or reads it (Prices gives
// the reply, extraction and settings paths the workspace's price table from the same Decode).
package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
)

// Settings is the typed form of a workspace's settings JSON.
type Settings struct {
	// RetentionDays is how many days conversations of each type are kept (0 or absent: forever).
	RetentionDays map[string]int
	// Prices are the workspace's own price entries, on top of the default table.
	Prices []usage.Price

	// other keeps keys this version does not know, and a "prices" value that does not parse,
	// so that saving one section never drops what another wrote.
	other      map[string]json.RawMessage
	pricesSet  bool
	pricesErr  error
	pricesKept json.RawMessage
}

// SetPrices replaces the workspace's price entries (none: the default table only).
func (st *Settings) SetPrices(p []usage.Price) {
	st.Prices, st.pricesSet = p, true
}

// PricesErr is why the stored price entries could not be read (nil when they could).
func (st *Settings) PricesErr() error { return st.pricesErr }

// Decode reads a settings JSON document. A document that is not JSON reads as empty settings
// (as the settings pages always treated it); stored prices that do not parse are kept as they
// are and reported by PricesErr.
func Decode(raw string) Settings {
	var st Settings
	if raw == "" || json.Unmarshal([]byte(raw), &st.other) != nil {
		st.other = nil
		return st
	}
	if v, ok := st.other["retention_days"]; ok {
		delete(st.other, "retention_days")
		_ = json.Unmarshal(v, &st.RetentionDays)
	}
	if v, ok := st.other["prices"]; ok {
		delete(st.other, "prices")
		if string(v) != "null" && len(v) > 0 {
			p, err := usage.ParsePrices(v)
			if err != nil {
				st.pricesErr, st.pricesKept = fmt.Errorf("workspace settings: %w", err), v
			} else {
				st.Prices = p
			}
		}
	}
	return st
}

// Encode writes the settings JSON document.
func (st Settings) Encode() (string, error) {
	m := make(map[string]any, len(st.other)+2)
	for k, v := range st.other {
		m[k] = v
	}
	if st.RetentionDays != nil {
		m["retention_days"] = st.RetentionDays
	}
	switch {
	case len(st.Prices) > 0:
		m["prices"] = st.Prices
	case st.pricesKept != nil && !st.pricesSet:
		m["prices"] = st.pricesKept
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// Service reads and changes workspace settings.
type Service struct {
	Store *store.Store
}

// Settings reads a workspace's settings.
func (s *Service) Settings(ctx context.Context, workspaceID int64) (Settings, error) {
	raw, err := s.Store.WorkspaceSettings(ctx, workspaceID)
	if err != nil {
		return Settings{}, err
	}
	return Decode(raw), nil
}

// Modify reads the workspace's settings, lets fn change them and stores the result, atomically:
// the row is locked (PostgreSQL) or the write serialised (SQLite) from the read to the write, so
// concurrent saves of different sections both persist. When fn returns an error nothing is
// written and that error is returned. fn must not use the store. The audit entries given are
// written in the same transaction (fn may still set their details).
func (s *Service) Modify(ctx context.Context, workspaceID int64, fn func(*Settings) error, audit ...*store.AuditEntry) (Settings, error) {
	var out Settings
	err := s.Store.ModifyWorkspaceSettings(ctx, workspaceID, func(raw string) (string, error) {
		st := Decode(raw)
		if err := fn(&st); err != nil {
			return "", err
		}
		out = st
		return st.Encode()
	}, audit...)
	return out, err
}

// Prices is base with the workspace's own price entries on top, read from its settings JSON
// by Decode (the one reader of that document). Stored entries that do not parse, or that the
// table refuses, give base and the error.
func Prices(base *usage.Table, settingsJSON string) (*usage.Table, error) {
	st := Decode(settingsJSON)
	if err := st.PricesErr(); err != nil {
		return base, err
	}
	if len(st.Prices) == 0 {
		return base, nil
	}
	t, err := base.With(usage.SourceSettings, st.Prices)
	if err != nil {
		return base, err
	}
	return t, nil
}

// PricesOf is the price table a new LLM call of a workspace is priced with: base (the
// defaults) with the workspace's own prices from Settings on top. Prices changed in Settings
// apply to new calls; the ledger row keeps the price it used. Settings that cannot be read,
// or prices that are invalid, leave base (logged): a call is never refused for its price.
func PricesOf(ctx context.Context, st *store.Store, base *usage.Table, workspaceID int64, log *slog.Logger) *usage.Table {
	if base == nil {
		base = usage.Default()
	}
	raw, err := st.WorkspaceSettings(ctx, workspaceID)
	if err != nil {
		return base
	}
	t, err := Prices(base, raw)
	if err != nil {
		if log == nil {
			log = slog.Default()
		}
		log.Warn("workspace prices are invalid; using the defaults", "workspace_id", workspaceID, "err", err)
		return base
	}
	return t
}
