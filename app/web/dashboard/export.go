package dashboard

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/convjson"
)

// exportBatch is how many conversations an export holds in memory at a time.
const exportBatch = 500

// exportFilter parses the list's filters for an export; a bad filter is a 400, never a
// silently unfiltered export. The export is recorded in the audit log (action, with the
// filter and format) before anything is sent: an export that cannot be recorded is not made.
func (s *Handler) exportFilter(c echo.Context, format string) (store.Filter, error) {
	q, f, err := conversation.ParseQueryFor(c.QueryParams(), time.Now(), current(c).User.ID)
	if err != nil {
		return f, echo.NewHTTPError(http.StatusBadRequest, "Bad filter: "+err.Error())
	}
	d := map[string]any{"format": format, "filter": q.Values().Encode()}
	if format == "jsonl" {
		d["messages"] = c.QueryParam("messages") == "1"
	}
	return f, s.recordExport(c, audit.ConversationsExport, audit.Target{}, d)
}

// recordExport writes the audit entry of an export by the request's user.
func (s *Handler) recordExport(c echo.Context, action audit.Action, target audit.Target, details map[string]any) error {
	ctx := c.Request().Context()
	return s.Audit.Record(ctx, audit.New(ctx, current(c).Workspace.ID, action, target, details))
}

func attachment(c echo.Context, contentType, name string) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
}

func exportName(ext string) string {
	return "conversations-" + time.Now().UTC().Format("20060102-150405") + "." + ext
}

var csvHeader = []string{"id", "type", "assistant_id", "assistant", "customer", "customer_name", "started_at", "last_message_at",
	"message_count", "user_message_count", "prompt_tokens", "completion_tokens", "cost_usd", "window_expires_at", "last_message",
	"summary", "outcome", "sentiment", "csat", "csat_estimate", "tags", "review_status"}

// exportPage is what an export needs of a page of conversations besides their rows: their
// tags and their latest evaluation values, one query each.
type exportPage struct {
	tags  map[int64][]string
	evals map[int64]map[string]string
}

func (s *Handler) exportPageOf(c echo.Context, rows []store.Conversation) (exportPage, error) {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var p exportPage
	var err error
	if p.tags, err = s.Store.TagNames(ctx, ws, ids); err != nil {
		return p, err
	}
	p.evals, err = s.Store.LatestEvaluationValues(ctx, ws, ids)
	return p, err
}

func optInt(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// exportCSV streams one row per conversation matching the filters, its variables as columns.
func (s *Handler) exportCSV(c echo.Context) error {
	f, err := s.exportFilter(c, "csv")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	varNames, err := s.Store.VariableNames(ctx, ws)
	if err != nil {
		return err
	}
	evs, err := s.Store.WorkspaceEvaluators(ctx, ws)
	if err != nil {
		return err
	}
	evalNames := conversation.EvaluatorNames(evs)
	attachment(c, "text/csv; charset=utf-8", exportName("csv"))
	res := c.Response()
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	header := append(append(append([]string{}, csvHeader...), prefixed(conversation.EvalParamPrefix, evalNames)...), prefixed("var:", varNames)...)
	if err := w.Write(header); err != nil {
		return nil
	}
	n := 0
	err = s.Store.EachConversationPage(ctx, ws, f, exportBatch, func(rows []store.Conversation) error {
		page, err := s.exportPageOf(c, rows)
		if err != nil {
			return err
		}
		for i := range rows {
			if err := writeCSVRow(w, &rows[i], page, evalNames, varNames); err != nil {
				return err
			}
		}
		n += len(rows)
		w.Flush()
		res.Flush()
		return w.Error()
	})
	w.Flush()
	if err != nil && ctx.Err() == nil {
		s.Log.Error("csv export failed midway", "err", err, "rows", n)
	}
	return nil
}

// writeCSVRow writes one conversation's row: its columns, the judgement, an evaluator's
// latest value per column, then its variables; every free text through model.CSVCell.
func writeCSVRow(w *csv.Writer, cv *store.Conversation, page exportPage, evalNames, varNames []string) error {
	{
		vars := cv.VariableMap()
		aid := ""
		if cv.AssistantID != nil {
			aid = strconv.FormatInt(*cv.AssistantID, 10)
		}
		exp := ""
		if cv.WindowExpiresAt != nil {
			exp = cv.WindowExpiresAt.UTC().Format(time.RFC3339)
		}
		row := []string{strconv.FormatInt(cv.ID, 10), cv.Type, aid, model.CSVCell(cv.AssistantName), model.CSVCell(cv.Customer), model.CSVCell(cv.CustomerName),
			cv.StartedAt.UTC().Format(time.RFC3339), cv.LastMessageAt.UTC().Format(time.RFC3339),
			strconv.Itoa(cv.MessageCount), strconv.Itoa(cv.UserMessageCount), strconv.FormatInt(cv.PromptTokens, 10),
			strconv.FormatInt(cv.CompletionTokens, 10), model.Money(cv.CostNanos).Exact(), exp, model.CSVCell(cv.LastMessagePreview)}
		row = append(row, model.CSVCell(cv.Summary), cv.Outcome, cv.Sentiment, optInt(cv.CSATScore), optInt(cv.CSATEstimate),
			model.CSVCell(strings.Join(page.tags[cv.ID], "; ")), cv.ReviewStatus)
		for _, name := range evalNames {
			row = append(row, model.CSVCell(page.evals[cv.ID][name]))
		}
		for _, name := range varNames {
			row = append(row, model.CSVCell(vars[name]))
		}
		return w.Write(row)
	}
}

func prefixed(p string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}

// exportJSONL streams one JSON object per conversation (the API's shape, with the judgement:
// summary, outcome, sentiment, csat, csat_estimate, review_status, tags and the latest value
// of every evaluator); with messages=1 each object carries its full message list.
func (s *Handler) exportJSONL(c echo.Context) error {
	f, err := s.exportFilter(c, "jsonl")
	if err != nil {
		return err
	}
	withMessages := c.QueryParam("messages") == "1"
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	name := exportName("jsonl")
	if withMessages {
		name = strings.Replace(name, "conversations-", "conversations-messages-", 1)
	}
	attachment(c, "application/x-ndjson", name)
	res := c.Response()
	res.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(res)
	now := time.Now()
	n := 0
	err = s.Store.EachConversationPage(ctx, ws, f, exportBatch, func(rows []store.Conversation) error {
		page, err := s.exportPageOf(c, rows)
		if err != nil {
			return err
		}
		for i := range rows {
			cv := &rows[i]
			obj := exportRowOf(cv, page, now)
			if withMessages {
				obj.Messages = []convjson.Message{}
				if err := s.Store.AllMessages(ctx, ws, cv.ID, func(m *store.Message) error {
					obj.Messages = append(obj.Messages, convjson.ToMessage(m))
					return nil
				}); err != nil {
					return err
				}
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		n += len(rows)
		res.Flush()
		return nil
	})
	if err != nil && ctx.Err() == nil {
		s.Log.Error("jsonl export failed midway", "err", err, "rows", n)
	}
	return nil
}

// exportRow is one line of the JSONL export. The judgement's fields are the outer struct's,
// so they win over any of the same name in convjson.Conversation; every one is present,
// null when empty.
type exportRow struct {
	convjson.Conversation
	CustomerName  string             `json:"customer_name"`
	AssistantName string             `json:"assistant_name"`
	Summary       *string            `json:"summary"`
	Outcome       *string            `json:"outcome"`
	Sentiment     *string            `json:"sentiment"`
	CSAT          *exportCSAT        `json:"csat"`
	CSATEstimate  *int               `json:"csat_estimate"`
	ReviewStatus  string             `json:"review_status"`
	Tags          []string           `json:"tags"`
	Evaluations   map[string]string  `json:"evaluations"`
	Messages      []convjson.Message `json:"messages,omitempty"`
}

type exportCSAT struct {
	Score   int     `json:"score"`
	Comment *string `json:"comment"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func exportRowOf(cv *store.Conversation, page exportPage, now time.Time) exportRow {
	r := exportRow{Conversation: convjson.ToConversation(cv, now), CustomerName: cv.CustomerName, AssistantName: cv.AssistantName,
		Summary: nullable(cv.Summary), Outcome: nullable(cv.Outcome), Sentiment: nullable(cv.Sentiment),
		CSATEstimate: cv.CSATEstimate, ReviewStatus: cv.ReviewStatus, Tags: page.tags[cv.ID], Evaluations: page.evals[cv.ID]}
	if cv.CSATScore != nil {
		r.CSAT = &exportCSAT{Score: *cv.CSATScore, Comment: nullable(cv.CSATComment)}
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if r.Evaluations == nil {
		r.Evaluations = map[string]string{}
	}
	return r
}

// exportConversation downloads one conversation as JSON: the API's detail document.
func (s *Handler) exportConversation(c echo.Context) error {
	id, err := conversationID(c)
	if err != nil {
		return err
	}
	ws := current(c).Workspace.ID
	if _, err := s.Store.GetConversation(c.Request().Context(), ws, id); errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such conversation.")
	} else if err != nil {
		return err
	}
	if err := s.recordExport(c, audit.ConversationExport, audit.On(audit.TargetConversation, id), map[string]any{"format": "json"}); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="conversation-`+strconv.FormatInt(id, 10)+`.json"`)
	return convjson.Write(c, s.Store, s.Log, ws, id)
}
