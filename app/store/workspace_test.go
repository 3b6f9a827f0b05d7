package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Two writers modify different sections of the same settings at once: every change of both
// persists (a read-modify-write outside one transaction lost some), and keys this version does
// not know survive.
func TestModifyWorkspaceSettingsLosesNoConcurrentChange(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "Alpha")
		if err := s.SetWorkspaceSettings(ctx, ws, `{"future":true}`); err != nil {
			t.Fatal(err)
		}
		const n = 10
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := 0; i < n; i++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs <- s.ModifyWorkspaceSettings(ctx, ws, func(st *model.Settings) error {
					if st.RetentionDays == nil {
						st.RetentionDays = map[string]int{}
					}
					st.RetentionDays[fmt.Sprintf("t%d", i)] = i + 1
					return nil
				})
			}()
			go func() {
				defer wg.Done()
				errs <- s.ModifyWorkspaceSettings(ctx, ws, func(st *model.Settings) error {
					var ps []int
					_ = json.Unmarshal(st.Prices, &ps)
					st.Prices, _ = json.Marshal(append(ps, i))
					return nil
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		st, err := s.WorkspaceSettings(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		var ps []int
		_ = json.Unmarshal(st.Prices, &ps)
		if len(st.RetentionDays) != n || len(ps) != n || string(st.Extra["future"]) != "true" {
			t.Fatalf("lost changes: %+v (prices %v)", st, ps)
		}

		stop := errors.New("stop")
		if err := s.ModifyWorkspaceSettings(ctx, ws, func(st *model.Settings) error { st.RetentionDays = nil; return stop }); !errors.Is(err, stop) {
			t.Fatalf("fn's error: %v", err)
		}
		if st, _ := s.WorkspaceSettings(ctx, ws); len(st.RetentionDays) != n {
			t.Fatal("a failed modification wrote")
		}
		if err := s.ModifyWorkspaceSettings(ctx, 999999, func(*model.Settings) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing workspace: %v", err)
		}
		if err := s.SetWorkspaceSettings(ctx, ws, `not json`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WorkspaceSettings(ctx, ws); !errors.Is(err, store.ErrBadSettings) {
			t.Fatalf("bad document: %v", err)
		}
	})
}
