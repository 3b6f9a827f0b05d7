package dashboard

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/analytics"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// topConversations is how many of the most expensive conversations the page lists.
const topConversations = 10

// analyticsReport reads the workspace's rollups for the requested range (one range scan of
// usage_daily), its assistants' names and its most expensive conversations (a walk of the
// cost index): the page costs the same with a hundred conversations or millions.
// The range parameter's error (an invalid value shows the default range) is returned in
// rangeErr, with the assistant parameter's (an invalid value shows every assistant).
func (s *Handler) analyticsReport(c echo.Context) (rep analytics.Report, rangeErr error, err error) {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	rng, rangeErr := analytics.ParseRange(c.QueryParam("range"), time.Now())
	rows, err := s.Store.Rollups(ctx, ws, rng.FromDay, rng.ToDay)
	if err != nil {
		return rep, rangeErr, err
	}
	as, err := s.Store.Assistants(ctx, ws)
	if err != nil {
		return rep, rangeErr, err
	}
	names := make(map[int64]string, len(as))
	for _, a := range as {
		names[a.ID] = a.Name
	}
	top, err := s.Store.TopConversationsByCost(ctx, ws, rng.From, topConversations)
	if err != nil {
		return rep, rangeErr, err
	}
	rep = analytics.Build(rng, rows, names, top)
	// issue 14: analytics (the quality rollups: one range scan of quality_daily)
	quality, err := s.Store.QualityRollups(ctx, ws, rng.FromDay, rng.ToDay)
	if err != nil {
		return rep, rangeErr, err
	}
	assistant, asstErr := analytics.ParseAssistant(c.QueryParam("assistant"), names)
	analytics.AddQuality(&rep, quality, names, assistant)
	return rep, errors.Join(rangeErr, asstErr), nil
}

// analyticsQuery is the query of the report's page: its range, and its assistant when the
// quality charts are scoped to one.
func analyticsQuery(rep analytics.Report) string {
	q := "range=" + strconv.Itoa(rep.Range.Days)
	if a := rep.Quality.Assistant; a != nil {
		q += "&assistant=" + strconv.FormatInt(*a, 10)
	}
	return q
}

func csvURL(rep analytics.Report, chart string) string {
	return routenames.URL(routenames.AnalyticsExportCSV) + "?" + analyticsQuery(rep) + "&chart=" + chart
}

func analyticsView(rep analytics.Report, rangeErr error) pages.AnalyticsView {
	d := pages.AnalyticsView{Range: strconv.Itoa(rep.Range.Days), TopCSV: csvURL(rep, analytics.ChartTop)}
	if len(rep.Range.Dates) > 0 {
		d.From, d.To = rep.Range.Dates[0], rep.Range.Dates[len(rep.Range.Dates)-1]
	}
	for _, n := range analytics.Ranges {
		d.Ranges = append(d.Ranges, pages.Option{Value: strconv.Itoa(n), Label: "Last " + strconv.Itoa(n) + " days"})
	}
	var re *analytics.RangeError
	if errors.As(rangeErr, &re) {
		d.Error = "The range " + re.Error()[len("range "):] + "; showing the last " + strconv.Itoa(rep.Range.Days) + " days."
	}
	// issue 14: analytics (the quality charts' assistant)
	var ae *analytics.AssistantError
	if errors.As(rangeErr, &ae) {
		d.Error = strings.TrimSpace(d.Error + " The " + ae.Error() + "; showing every assistant.")
	}
	d.Assistants = []pages.Option{{Value: "", Label: "All assistants"}}
	for _, a := range rep.Quality.Choices {
		d.Assistants = append(d.Assistants, pages.Option{Value: strconv.FormatInt(a.ID, 10), Label: a.Name})
	}
	if a := rep.Quality.Assistant; a != nil {
		d.Assistant = strconv.FormatInt(*a, 10)
	}
	t := rep.Totals
	share := "–"
	if t.Required > 0 {
		share = strconv.FormatFloat(float64(t.Complete)*100/float64(t.Required), 'f', 1, 64) + "%"
	}
	d.Summary = []pages.StatView{
		{ID: "conversations", Label: "Conversations", Value: strconv.FormatInt(t.Conversations, 10)},
		{ID: "messages", Label: "Messages", Value: strconv.FormatInt(t.Messages, 10)},
		{ID: "calls", Label: "LLM calls", Value: strconv.FormatInt(t.LLMCalls, 10)},
		{ID: "tokens", Label: "Tokens", Value: strconv.FormatInt(t.Tokens, 10)},
		{ID: "cost", Label: "Cost", Value: model.Money(t.CostNanos).Dollars()},
		{ID: "replay-cost", Label: "Of which replays and test runs", Value: model.Money(t.ReplayCostNanos).Dollars()}, // issue 15
		{ID: "complete", Label: "With all required variables", Value: share},
		{ID: "windows", Label: "WhatsApp windows closed unanswered", Value: strconv.FormatInt(t.WindowsUnanswered, 10)},
	}
	// issue 14: analytics
	q := rep.Quality.Totals
	d.Summary = append(d.Summary,
		pages.StatView{ID: "evaluated", Label: "Evaluated conversations", Value: strconv.FormatInt(q.Evaluated, 10)},
		pages.StatView{ID: "resolution", Label: "Resolution rate", Value: analytics.PercentOrDash(q.ResolutionBP())},
		pages.StatView{ID: "csat", Label: "CSAT (customers)", Value: analytics.ScoreOrDash(q.CSAT())},
		pages.StatView{ID: "csat-estimate", Label: "CSAT (estimated)", Value: analytics.ScoreOrDash(q.Estimate())},
		pages.StatView{ID: "thumbs-up", Label: "Thumbs up", Value: analytics.PercentOrDash(q.UpBP())},
	)
	qt := rep.QualityTable()
	d.Quality = pages.TableView{ID: analytics.ChartQualityAssistants, Head: qt.Head, Rows: qt.Rows, Foot: qt.Foot,
		CSVURL: csvURL(rep, analytics.ChartQualityAssistants)}
	for i := range rep.Charts {
		ch := &rep.Charts[i]
		tb := ch.Table()
		d.Charts = append(d.Charts, pages.ChartView{ID: ch.ID, Title: ch.Title, Description: ch.Description, Summary: ch.Summary,
			Plot: ch.Plot(), Head: tb.Head, Rows: tb.Rows, Foot: tb.Foot, CSVURL: csvURL(rep, ch.ID)})
	}
	for _, c := range rep.Top {
		d.Top = append(d.Top, pages.TopConvView{ID: c.ID, Customer: c.Customer, Type: c.Type, TypeLabel: conversation.TypeLabel(c.Type),
			Assistant: c.Assistant, Cost: model.Money(c.CostNanos).Cents(), CostExact: model.Money(c.CostNanos).Exact(),
			Messages: c.Messages, LastAt: c.LastAt})
	}
	return d
}

// analyticsPage shows the charts of a range: the full page, or for htmx (the range form) the
// results fragment, with the canonical URL pushed.
func (s *Handler) analyticsPage(c echo.Context) error {
	rep, rangeErr, err := s.analyticsReport(c)
	if err != nil {
		return err
	}
	d := analyticsView(rep, rangeErr)
	if htmx.IsFragment(c) {
		c.Response().Header().Set("HX-Push-Url", routenames.URL(routenames.Analytics)+"?"+analyticsQuery(rep))
		return htmx.Render(c, http.StatusOK, pages.AnalyticsResults(d))
	}
	p, err := s.page(c, "Analytics", "analytics")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.AnalyticsPage(p, d))
}

// analyticsCSV serves one chart's numbers (the same cells as its table) as CSV.
func (s *Handler) analyticsCSV(c echo.Context) error {
	chart := c.QueryParam("chart")
	known := false
	for _, id := range analytics.ChartIDs {
		known = known || id == chart
	}
	if !known {
		return echo.NewHTTPError(http.StatusBadRequest, "chart must be one of "+strings.Join(analytics.ChartIDs, ", ")+".")
	}
	rep, rangeErr, err := s.analyticsReport(c)
	if err != nil {
		return err
	}
	if rangeErr != nil {
		return echo.NewHTTPError(http.StatusBadRequest, rangeErr.Error()+".")
	}
	if err := s.recordExport(c, audit.AnalyticsExport, audit.Target{}, map[string]any{
		"format": "csv", "chart": chart, "from": rep.Range.FromDay, "days": rep.Range.Days, "filter": c.QueryParams().Encode(),
	}); err != nil {
		return err
	}
	var tb analytics.Table
	switch chart {
	case analytics.ChartTop:
		tb = rep.TopTable(s.Config.BaseURL)
	case analytics.ChartQualityAssistants: // issue 14: analytics
		tb = rep.QualityTable()
	default:
		ch, _ := rep.Chart(chart)
		tb = ch.Table()
	}
	var buf bytes.Buffer
	if err := tb.WriteCSV(&buf); err != nil {
		return err
	}
	name := "analytics-" + chart + "-" + rep.Range.FromDay + "-" + strconv.Itoa(rep.Range.Days) + "d.csv"
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}
