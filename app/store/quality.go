package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// Quality rollups (issue 14): quality_daily holds, per workspace, UTC day and assistant (0 for
// none), what the conversations' evaluations and their customers said, for the Analytics page.
// Each row is a metric and an item with a count (N) and a sum (Total):
//
//	evaluated      ""              conversations whose latest evaluation has a done value
//	outcome        the outcome     conversations (model.Outcomes)
//	sentiment      the sentiment   conversations (model.Sentiments)
//	csat_estimate  ""              conversations, sum of the estimates (1 to 5)
//	csat           ""              customers' CSAT answers, sum of the scores (1 to 5)
//	feedback       up or down      thumbs on assistant messages
//	rating         evaluator name  conversations, sum of the custom rating evaluator's values
//
// Evaluations count on the day of the end their latest run judged (conversation_ends.ended_at),
// the customer's CSAT on the day it was given (conversations.csat_at), feedback on the day it
// was first given (message_feedback.created_at).
//
// A (workspace, day) is recomputed whole from its sources (RecomputeQualityDay): absolute
// values, so running it twice, concurrently or after a crash gives the same rows. Which days to
// recompute comes from a watermark (QualityTouchedDays: the days of the sources changed since
// it), and a reconciliation recomputes the recent days (what a deletion leaves).

// Quality metrics (quality_daily.metric).
const (
	QualityEvaluated    = "evaluated"
	QualityOutcome      = "outcome"
	QualitySentiment    = "sentiment"
	QualityCSATEstimate = "csat_estimate"
	QualityCSAT         = "csat"
	QualityFeedback     = "feedback"
	QualityRating       = "rating"
)

// QualityWatermarkName is the rollup_watermarks row of the quality rollups.
const QualityWatermarkName = "quality"

// QualityDaily is one row of quality_daily.
type QualityDaily struct {
	WorkspaceID int64  `bun:"workspace_id"`
	Day         string `bun:"day"` // YYYY-MM-DD, UTC
	AssistantID int64  `bun:"assistant_id"`
	Metric      string `bun:"metric"`
	Item        string `bun:"item"`
	N           int64  `bun:"n"`
	Total       int64  `bun:"total"`
}

type qualityKey struct {
	AssistantID  int64
	Metric, Item string
}

func (r QualityDaily) key() qualityKey { return qualityKey{r.AssistantID, r.Metric, r.Item} }

// WorkspaceDay is one workspace's UTC day.
type WorkspaceDay struct {
	WorkspaceID int64  `bun:"workspace_id"`
	Day         string `bun:"day"`
}

// QualityRatings says which custom evaluators of which assistant are ratings (assistant id ->
// evaluator names): only their values are averaged.
type QualityRatings map[int64]map[string]bool

// qualitySourceRow is one group read from the sources.
type qualitySourceRow struct {
	AssistantID int64   `bun:"assistant_id"`
	Name        string  `bun:"name"`
	Value       *string `bun:"value"`
	N           int64   `bun:"n"`
	Total       int64   `bun:"total"`
}

// qualitySources reads a workspace's quality figures of the UTC day starting at from.
func (s *Store) qualitySources(ctx context.Context, db bun.IDB, workspaceID int64, day string, from, to time.Time, ratings QualityRatings) (map[qualityKey]*QualityDaily, error) {
	out := map[qualityKey]*QualityDaily{}
	add := func(assistant int64, metric, item string, n, total int64) {
		k := qualityKey{assistant, metric, item}
		r := out[k]
		if r == nil {
			r = &QualityDaily{WorkspaceID: workspaceID, Day: day, AssistantID: assistant, Metric: metric, Item: item}
			out[k] = r
		}
		r.N += n
		r.Total += total
	}
	scan := func(what, q string, args ...any) ([]qualitySourceRow, error) {
		var rows []qualitySourceRow
		if err := db.NewRaw(q, args...).Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("quality %s: %w", what, err)
		}
		return rows, nil
	}
	// The latest values of the runs that judged the ends of that day.
	const judged = `FROM conversation_ends AS e
		JOIN evaluation_runs AS r ON r.conversation_id = e.conversation_id AND r.end_seq = e.seq AND r.workspace_id = e.workspace_id
		JOIN evaluation_values AS v ON v.run_id = r.id
		JOIN conversations AS c ON c.id = e.conversation_id AND c.workspace_id = e.workspace_id
		WHERE e.workspace_id = ? AND e.ended_at >= ? AND e.ended_at < ? AND v.latest AND v.status = ? AND v.value IS NOT NULL`
	rows, err := scan("evaluated", `SELECT COALESCE(c.assistant_id, 0) AS assistant_id, COUNT(DISTINCT v.conversation_id) AS n `+judged+`
		GROUP BY COALESCE(c.assistant_id, 0)`, workspaceID, from, to, model.EvalDone)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		add(r.AssistantID, QualityEvaluated, "", r.N, 0)
	}
	rows, err = scan("values", `SELECT COALESCE(c.assistant_id, 0) AS assistant_id, v.name, v.value, COUNT(*) AS n `+judged+`
			AND (v.name IN (?) OR (NOT v.builtin AND v.value IN (?)))
		GROUP BY COALESCE(c.assistant_id, 0), v.name, v.value`, workspaceID, from, to, model.EvalDone,
		bun.List([]string{model.EvalOutcome, model.EvalSentiment, model.EvalCSATEstimate}), bun.List(ratingValues()))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		v := *r.Value
		switch {
		case r.Name == model.EvalOutcome && slices.Contains(model.Outcomes, v):
			add(r.AssistantID, QualityOutcome, v, r.N, 0)
		case r.Name == model.EvalSentiment && slices.Contains(model.Sentiments, v):
			add(r.AssistantID, QualitySentiment, v, r.N, 0)
		case r.Name == model.EvalCSATEstimate:
			if score, ok := ratingValue(v); ok {
				add(r.AssistantID, QualityCSATEstimate, "", r.N, r.N*score)
			}
		case !model.IsBuiltinEvaluator(r.Name) && ratings[r.AssistantID][r.Name]:
			if score, ok := ratingValue(v); ok {
				add(r.AssistantID, QualityRating, r.Name, r.N, r.N*score)
			}
		}
	}
	rows, err = scan("csat", `SELECT COALESCE(assistant_id, 0) AS assistant_id, COUNT(*) AS n, COALESCE(SUM(csat_score), 0) AS total
		FROM conversations WHERE workspace_id = ? AND csat_at >= ? AND csat_at < ? AND csat_score IS NOT NULL
		GROUP BY COALESCE(assistant_id, 0)`, workspaceID, from, to)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		add(r.AssistantID, QualityCSAT, "", r.N, r.Total)
	}
	rows, err = scan("feedback", `SELECT COALESCE(c.assistant_id, 0) AS assistant_id, f.rating AS value, COUNT(*) AS n
		FROM message_feedback AS f JOIN conversations AS c ON c.id = f.conversation_id AND c.workspace_id = f.workspace_id
		WHERE f.workspace_id = ? AND f.created_at >= ? AND f.created_at < ? AND f.rating IN (?)
		GROUP BY COALESCE(c.assistant_id, 0), f.rating`, workspaceID, from, to, bun.List([]string{model.FeedbackUp, model.FeedbackDown}))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		add(r.AssistantID, QualityFeedback, *r.Value, r.N, 0)
	}
	return out, nil
}

// ratingValues are the values of a rating ("1".."5").
func ratingValues() []string {
	var out []string
	for v := model.CSATMin; v <= model.CSATMax; v++ {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func ratingValue(s string) (int64, bool) {
	for v := model.CSATMin; v <= model.CSATMax; v++ {
		if s == fmt.Sprint(v) {
			return int64(v), true
		}
	}
	return 0, false
}

// RecomputeQualityDay sets a workspace's quality rollups of one UTC day to what its sources
// say, in one transaction, and reports whether anything changed. ratings names the custom
// rating evaluators of each assistant.
func (s *Store) RecomputeQualityDay(ctx context.Context, workspaceID int64, day string, ratings QualityRatings) (bool, error) {
	from, err := time.Parse(DayLayout, day)
	if err != nil {
		return false, fmt.Errorf("rollup day %q: %w", day, err)
	}
	to := from.AddDate(0, 0, 1)
	changed := false
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		changed = false
		if s.Dialect == Postgres { // one recomputation per workspace at a time: the last one reads the newest sources
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7014, ?)", int32(workspaceID)); err != nil {
				return err
			}
		}
		want, err := s.qualitySources(ctx, tx, workspaceID, day, from, to, ratings)
		if err != nil {
			return err
		}
		var have []QualityDaily
		if err := tx.NewRaw(`SELECT workspace_id, `+s.dayColumn("")+` AS day, assistant_id, metric, item, n, total
			FROM quality_daily WHERE workspace_id = ? AND day = ?`, workspaceID, day).Scan(ctx, &have); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		same := len(have) == len(want)
		for _, h := range have {
			if w := want[h.key()]; w == nil || *w != h {
				same = false
			}
		}
		if same {
			return nil
		}
		changed = true
		if _, err := tx.ExecContext(ctx, "DELETE FROM quality_daily WHERE workspace_id = ? AND day = ?", workspaceID, day); err != nil {
			return err
		}
		rows := make([]QualityDaily, 0, len(want))
		for _, w := range want {
			rows = append(rows, *w)
		}
		return insertQuality(ctx, tx, rows)
	})
	return changed, err
}

// insertQuality writes quality rows (replacing rows of the same key), in key order.
func insertQuality(ctx context.Context, tx bun.IDB, rows []QualityDaily) error {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.WorkspaceID != b.WorkspaceID {
			return a.WorkspaceID < b.WorkspaceID
		}
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.AssistantID != b.AssistantID {
			return a.AssistantID < b.AssistantID
		}
		if a.Metric != b.Metric {
			return a.Metric < b.Metric
		}
		return a.Item < b.Item
	})
	const chunk = 200
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO quality_daily (workspace_id, day, assistant_id, metric, item, n, total) VALUES ")
		args := make([]any, 0, len(part)*7)
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, r.WorkspaceID, r.Day, r.AssistantID, r.Metric, r.Item, r.N, r.Total)
		}
		b.WriteString(" ON CONFLICT (workspace_id, day, assistant_id, metric, item) DO UPDATE SET n = EXCLUDED.n, total = EXCLUDED.total")
		if _, err := tx.NewRaw(b.String(), args...).Exec(ctx); err != nil {
			return fmt.Errorf("write quality rollups: %w", err)
		}
	}
	return nil
}

// InsertQualityRollups writes quality rows as given (seeding benchmarks and fixtures;
// production rows come from RecomputeQualityDay).
func (s *Store) InsertQualityRollups(ctx context.Context, rows []QualityDaily) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error { return insertQuality(ctx, tx, rows) })
}

// QualityTouchedDays lists the (workspace, UTC day) pairs whose quality sources changed at or
// after since: every end of a conversation with an evaluation run finished since (a new
// latest run moves the conversation's values from the day of its earlier end), the day of
// every CSAT answered since, and the day of every feedback given or changed since.
func (s *Store) QualityTouchedDays(ctx context.Context, since time.Time) ([]WorkspaceDay, error) {
	var rows []WorkspaceDay
	err := s.DB.NewRaw(`SELECT DISTINCT e.workspace_id, `+s.dayExpr("e.ended_at")+` AS day
			FROM evaluation_runs AS r JOIN conversation_ends AS e ON e.conversation_id = r.conversation_id
			WHERE r.finished_at >= ?
		UNION SELECT DISTINCT workspace_id, `+s.dayExpr("csat_at")+` AS day FROM conversations WHERE csat_at >= ?
		UNION SELECT DISTINCT workspace_id, `+s.dayExpr("created_at")+` AS day FROM message_feedback WHERE updated_at >= ?
		ORDER BY workspace_id, day`, since.UTC(), since.UTC(), since.UTC()).Scan(ctx, &rows)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return rows, err
}

// Watermark reads a rollup's watermark (the zero time when it has none).
func (s *Store) Watermark(ctx context.Context, name string) (time.Time, error) {
	var at time.Time
	err := s.DB.NewRaw("SELECT at FROM rollup_watermarks WHERE name = ?", name).Scan(ctx, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return at.UTC(), err
}

// SetWatermark sets a rollup's watermark.
func (s *Store) SetWatermark(ctx context.Context, name string, at time.Time) error {
	_, err := s.DB.NewRaw(`INSERT INTO rollup_watermarks (name, at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET at = EXCLUDED.at`, name, at.UTC()).Exec(ctx)
	return err
}

// QualityRollups reads a workspace's quality rows of the days [fromDay, toDay): one range scan
// of quality_daily's primary key.
func (s *Store) QualityRollups(ctx context.Context, workspaceID int64, fromDay, toDay string) ([]QualityDaily, error) {
	var rows []QualityDaily
	err := s.DB.NewRaw(`SELECT workspace_id, `+s.dayColumn("")+` AS day, assistant_id, metric, item, n, total
		FROM quality_daily WHERE workspace_id = ? AND day >= ? AND day < ?
		ORDER BY day, assistant_id, metric, item`, workspaceID, fromDay, toDay).Scan(ctx, &rows)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return rows, err
}
