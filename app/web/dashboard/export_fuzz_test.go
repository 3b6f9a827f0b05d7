package dashboard_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// storable is what the channels let into the database: valid UTF-8 (JSON and form text are
// made so) without NUL (refused or replaced on the way in).
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// FuzzExportCSV stores one conversation with a fuzzed customer, customer name, message and
// variable values, exports the workspace as CSV through GET /conversations/export.csv, and
// reads it back with encoding/csv: every row has the header's columns, the cells hold what was
// stored (with the neutralising quote), and no cell starts with = + - @ tab or CR.
func FuzzExportCSV(f *testing.F) {
	for _, s := range [][4]string{
		{"+4915112345678", "Ana", "hello from whatsapp", "buyer@shop.test"},
		{"visitor-0001", "", "Hello, do you ship to Lisbon?", "=HYPERLINK(\"http://evil\",\"x\")"},
		{"=1+1", "@SUM(A1:A2)", "-2+3", "+cmd|' /C calc'!A0"},
		{"\tlead", "\rcr", "=cmd", "\r\n=x"},
		{"a,b", "\"quoted\"", "line1\nline2\r\nline3", "x\ry"},
		{"<script>alert(1)</script>", "hx-get=/logout", "javascript:alert(1)", "\x00\xff\xfe"},
		{"", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	cfg := testkit.Config(f)
	srv := webtest.NewFuzzServer(f, cfg)
	ws := srv.User("ana@example.com", "correct-horse")
	c := srv.Client()
	srv.Login(c, "ana@example.com", "correct-horse")
	cookie := srv.CookieHeader(c)
	ctx := context.Background()
	st := srv.App.Store
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Sales bot"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		f.Fatal(err)
	}
	var prev int64

	f.Fuzz(func(t *testing.T, customer, name, content, value string) {
		customer, name, content, value = storable(customer), storable(name), storable(content), storable(value)
		if prev != 0 {
			if err := st.DeleteConversation(ctx, ws.ID, prev); err != nil {
				t.Fatal(err)
			}
		}
		conv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, Type: model.TypeWidget, Customer: customer, CustomerName: name,
			StartedAt: time.Now().UTC(), Charged: true}
		if err := st.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		prev = conv.ID
		if _, err := st.AddMessage(ctx, &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: content}); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"email": value, "note": name} {
			if err := st.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: ws.ID, ConversationID: conv.ID, Name: k, Value: v, Source: "prechat"}); err != nil {
				t.Fatal(err)
			}
		}

		req := httptest.NewRequest(http.MethodGet, "/conversations/export.csv", nil)
		req.Header.Set("Cookie", cookie)
		rec := srv.Serve(req)
		if rec.Code != http.StatusOK {
			t.Fatalf("export: %d %s", rec.Code, rec.Body.String())
		}
		rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll() // also checks the column count of every row
		if err != nil {
			t.Fatalf("the export does not read back: %v\n%q", err, rec.Body.String())
		}
		if len(rows) != 2 {
			t.Fatalf("%d rows, want the header and one conversation:\n%q", len(rows), rec.Body.String())
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		row := rows[1]
		for i, cell := range row {
			if webtest.FormulaCell(cell) {
				t.Fatalf("column %s starts with %q: %q", rows[0][i], cell[0], cell)
			}
		}
		// encoding/csv reads a quoted CRLF as LF.
		want := func(s string) string { return strings.ReplaceAll(model.CSVCell(s), "\r\n", "\n") }
		for h, v := range map[string]string{"customer": customer, "customer_name": name, "var:email": value, "var:note": name,
			"last_message": store.Preview(content)} {
			i, ok := col[h]
			if !ok {
				t.Fatalf("no column %s in %q", h, rows[0])
			}
			if row[i] != want(v) {
				t.Fatalf("column %s: %q, want %q", h, row[i], want(v))
			}
		}
	})
}
