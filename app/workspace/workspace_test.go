package workspace_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/workspace"
)

// Two admins save different sections at once: the retention save reads the settings, and
// while it is still deciding, the prices save starts. Both changes must persist. A plain
// read-modify-write (what the settings pages did) lets the prices save read the settings
// before the retention save wrote them, and then overwrite them without the retention.
func TestModifyConcurrentSectionsBothPersist(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ws, _, err := st.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
		if err != nil {
			t.Fatal(err)
		}
		svc := &workspace.Service{Store: st}
		prices, err := usage.ParsePrices([]byte(`[{"match":"my-model","input_per_1m":"1","output_per_1m":"2"}]`))
		if err != nil {
			t.Fatal(err)
		}
		inside := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errs[0] = svc.Modify(ctx, ws.ID, func(s *workspace.Settings) error {
				close(inside)
				time.Sleep(300 * time.Millisecond) // the other save starts meanwhile
				s.RetentionDays = map[string]int{model.TypeTest: 7}
				return nil
			})
		}()
		go func() {
			defer wg.Done()
			<-inside
			_, errs[1] = svc.Modify(ctx, ws.ID, func(s *workspace.Settings) error {
				s.SetPrices(prices)
				return nil
			})
		}()
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Settings(ctx, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RetentionDays[model.TypeTest] != 7 {
			t.Errorf("the retention save was lost: %+v", got.RetentionDays)
		}
		if len(got.Prices) != 1 || got.Prices[0].Match != "my-model" {
			t.Errorf("the prices save was lost: %+v", got.Prices)
		}
	})
}

func TestModifyErrorWritesNothing(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ws, _, err := st.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
		if err != nil {
			t.Fatal(err)
		}
		svc := &workspace.Service{Store: st}
		if _, err := svc.Modify(ctx, ws.ID, func(s *workspace.Settings) error {
			s.RetentionDays = map[string]int{model.TypeWidget: 30}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("invalid")
		if _, err := svc.Modify(ctx, ws.ID, func(s *workspace.Settings) error {
			s.RetentionDays = nil
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		got, _ := svc.Settings(ctx, ws.ID)
		if got.RetentionDays[model.TypeWidget] != 30 {
			t.Fatalf("a failed modify wrote: %+v", got)
		}
		if _, err := svc.Modify(ctx, ws.ID+1000, func(*workspace.Settings) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown workspace: %v", err)
		}
	})
}

// Keys this version does not know and stored prices that do not parse survive a save of
// another section.
func TestSettingsKeepWhatTheyDoNotKnow(t *testing.T) {
	raw := `{"future":{"a":1},"prices":"not a list","retention_days":{"test":3}}`
	st := workspace.Decode(raw)
	if st.PricesErr() == nil || st.RetentionDays["test"] != 3 {
		t.Fatalf("decode: %+v %v", st, st.PricesErr())
	}
	st.RetentionDays = map[string]int{"widget": 9}
	out, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"future":{"a":1}`, `"prices":"not a list"`, `"retention_days":{"widget":9}`} {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
	st.SetPrices(nil)
	out, _ = st.Encode()
	if strings.Contains(out, "prices") {
		t.Errorf("cleared prices kept: %s", out)
	}
	if got := workspace.Decode("not json"); got.RetentionDays != nil || got.Prices != nil {
		t.Errorf("not JSON: %+v", got)
	}
}

// The workspace's own prices come from the one settings reader: entries on top of the base
// table, and a stored list that does not parse leaves the base with the error.
func TestPricesComeFromTheSettings(t *testing.T) {
	base := usage.Default()
	tbl, err := workspace.Prices(base, `{"retention_days":{"test":7},"prices":[{"match":"my-model","input_per_1m":"1","output_per_1m":"2"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tbl.Lookup("my-model"); !ok || p.InputPer1M != "1" || p.Source != usage.SourceSettings {
		t.Fatalf("own entry: %+v %v", p, ok)
	}
	if _, ok := base.Lookup("my-model"); ok {
		t.Fatal("the base table is not changed")
	}
	for _, raw := range []string{``, `{}`, `{"prices":null}`} {
		if tbl, err := workspace.Prices(base, raw); err != nil || tbl != base {
			t.Fatalf("%q: %v", raw, err)
		}
	}
	if tbl, err := workspace.Prices(base, `{"prices":[{"match":"x","input_per_1m":"abc"}]}`); err == nil || tbl != base {
		t.Fatalf("broken entries: %v", err)
	}
}

// PricesOf is the one reading of a workspace's prices that every LLM call is priced with
// (replies, extraction, evaluation): its own prices over the defaults; invalid prices or a
// workspace that cannot be read leave the defaults.
func TestPricesOf(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ws, _, err := st.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
		if err != nil {
			t.Fatal(err)
		}
		base := usage.Default()
		set := func(settings string) {
			t.Helper()
			if _, err := st.DB.NewUpdate().Table("workspaces").Set("settings = ?", settings).Where("id = ?", ws.ID).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		set(`{"prices":[{"match":"my-model","input_per_1m":"1","output_per_1m":"2"}]}`)
		if p, ok := workspace.PricesOf(ctx, st, base, ws.ID, nil).Lookup("my-model"); !ok || p.Source != usage.SourceSettings {
			t.Fatalf("the workspace's own price: %+v %v", p, ok)
		}
		if _, ok := workspace.PricesOf(ctx, st, nil, ws.ID, nil).Lookup("my-model"); !ok {
			t.Fatal("no base: the defaults, with the workspace's prices on top")
		}
		set(`{"prices":[{"match":"x","input_per_1m":"abc"}]}`)
		if got := workspace.PricesOf(ctx, st, base, ws.ID, nil); got != base {
			t.Fatal("invalid prices: the defaults")
		}
		if got := workspace.PricesOf(ctx, st, base, ws.ID+1000, nil); got != base {
			t.Fatal("a workspace that cannot be read: the defaults")
		}
	})
}
