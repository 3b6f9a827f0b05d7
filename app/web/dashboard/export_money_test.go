package dashboard_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/web/webtest"
)

// TestBothCSVExportsPrintMoneyAlike: the conversations export and the analytics top-table
// export print the same conversation's cost as the same string (model.Money.Exact). They
// differed: "2.500000000" in one, "2.50" in the other.
func TestBothCSVExportsPrintMoneyAlike(t *testing.T) {
	e := newEnv(t)
	e.analyticsFixture("ana@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	read := func(path string) map[string]map[string]string {
		t.Helper()
		res := e.Get(c, path)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		recs, err := csv.NewReader(strings.NewReader(webtest.Body(t, res))).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%s: %v %v", path, recs, err)
		}
		out := map[string]map[string]string{}
		for _, r := range recs[1:] {
			row := map[string]string{}
			for i, h := range recs[0] {
				row[h] = r[i]
			}
			id := row["id"]
			if id == "" {
				id = row["conversation_id"]
			}
			out[id] = row
		}
		return out
	}
	convs := read("/conversations/export.csv")
	top := read("/analytics/export.csv?range=7&chart=top")
	for id, tr := range top {
		cr, ok := convs[id]
		if !ok {
			t.Fatalf("conversation %s is in the analytics export only", id)
		}
		if cr["cost_usd"] != tr["cost_usd"] {
			t.Errorf("conversation %s: conversations CSV cost %q, analytics CSV cost %q", id, cr["cost_usd"], tr["cost_usd"])
		}
	}
	if len(top) != 2 {
		t.Fatalf("top rows: %v", top)
	}
}
