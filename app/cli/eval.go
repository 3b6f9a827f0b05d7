package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/config"
)

// `parley eval run`: a test set run for CI pipelines (issue 15 item 3). It runs the set
// against a version in this process (no worker needed), compares it with a baseline version's
// run by THE regression rule (testruns.Worse) and exits 1 when it is worse.

func init() {
	register(command{"eval", "run a test set against an assistant version and compare it with a baseline (exit 1 when worse)",
		"run --test-set ID --version N|draft [--baseline M] [--tolerance 0.2] [--json] [--rerun-baseline] [--workspace ID]", runEval})
	helpText["eval"] = `  run --test-set ID --version N|draft [--baseline M] [--tolerance 0.2] [--json]
      [--rerun-baseline] [--workspace ID]
          replay every case of the test set with version N (or the draft) in this process,
          grade it (the evaluators; an LLM judgement of each expected answer, or, with the
          offline provider, a word-overlap rule), and compare it with version M (default: the
          published version). M's latest finished run on the set is the baseline; when it has
          none (or with --rerun-baseline) M is run now too. Prints a table (case, passed now
          and in the baseline, ratings, cost) and the totals, or with --json the comparison's
          document (the API's GET /api/v1/test-set-runs/{id}/compare).
          Exit status: 1 when the run is worse than the baseline (a lower pass rate, or any
          rating evaluator's average lower by more than --tolerance) or could not be made,
          0 otherwise (also when N is the baseline itself), 2 on usage errors.
          The workspace is the test set's (--workspace: the first one by default).
`
}

// errWorse is the run being worse than its baseline: exit status 1.
type errWorse struct{ why []string }

func (e *errWorse) Error() string {
	return "the run is worse than the baseline: " + strings.Join(e.why, "; ")
}

func runEval(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "run" {
		return &usageError{"say run"}
	}
	fs := newFlags("eval run")
	setID := fs.Int64("test-set", 0, "the test set's id")
	version := fs.String("version", "", "the version to run: a number or draft")
	baseline := fs.String("baseline", "", "the baseline version (default: the published one)")
	tolerance := fs.Float64("tolerance", model.DefaultRegressionTolerance, "how much lower a rating average may be")
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	rerun := fs.Bool("rerun-baseline", false, "run the baseline version now even when it has a finished run")
	wsID := fs.Int64("workspace", 0, "workspace id (default: the first workspace)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	case *setID <= 0:
		return &usageError{"--test-set is required (a test set's id)"}
	case !set["version"]:
		return &usageError{"--version is required (a version number or draft)"}
	case *tolerance < 0 || math.IsNaN(*tolerance) || math.IsInf(*tolerance, 0):
		return &usageError{"--tolerance must be a number of 0 or more"}
	}
	ref, err := model.ParseVersionRef(*version)
	if err != nil || strings.TrimSpace(*version) == "" {
		return &usageError{"--version " + model.ErrVersionRef.Error()}
	}
	var baseRef *model.VersionRef
	if set["baseline"] {
		r, err := model.ParseVersionRef(*baseline)
		if err != nil || strings.TrimSpace(*baseline) == "" {
			return &usageError{"--baseline " + model.ErrVersionRef.Error()}
		}
		baseRef = &r
	}
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, app.Options{SkipMigrate: !cfg.Embedded()})
	if err != nil {
		return err
	}
	defer a.Close()
	ws, err := evalWorkspace(ctx, a.Store, *wsID)
	if err != nil {
		return err
	}
	ts, err := a.Store.TestSetByID(ctx, ws, *setID)
	if errors.Is(err, store.ErrNotFound) {
		return &usageError{fmt.Sprintf("--test-set: no test set %d in workspace %d", *setID, ws)}
	}
	if err != nil {
		return err
	}
	asst, err := a.Store.AssistantByID(ctx, ws, ts.AssistantID)
	if err != nil {
		return err
	}
	if baseRef == nil {
		baseRef = &model.VersionRef{Number: asst.PublishedVersion}
	}
	progress := io.Discard
	if !*asJSON {
		progress = env.Stderr
	}
	by := store.Author{Name: "CLI"}
	run, err := evalRun(ctx, a, ws, ts.ID, ref, by, progress)
	if err != nil {
		return err
	}
	// The baseline: the same run when it is the same version; else its latest finished run on
	// the set, or a new run.
	var baseID int64
	if bv, err := a.Store.ResolveVersion(ctx, asst, *baseRef); err != nil {
		return versionUsage("--baseline", *baseRef, err)
	} else if bv.Number == run.Version {
		baseID = run.ID
	} else if prev, err := a.Store.LatestFinishedTestSetRun(ctx, ws, ts.ID, bv.Number); err == nil && !*rerun {
		baseID = prev.ID
		fmt.Fprintf(progress, "baseline: run %d of v%d (finished %s)\n", prev.ID, prev.Version, fmtTime(prev.FinishedAt))
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	} else {
		b, err := evalRun(ctx, a, ws, ts.ID, model.VersionRef{Number: bv.Number}, by, progress)
		if err != nil {
			return err
		}
		baseID = b.ID
	}
	cmp, err := a.TestRuns.Compare(ctx, ws, baseID, run.ID, *tolerance)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(testruns.CompareDoc(cmp)); err != nil {
			return err
		}
	} else {
		printComparison(env.Stdout, cmp)
	}
	if cmp.Worse() {
		return &errWorse{cmp.Regressions}
	}
	return nil
}

func evalWorkspace(ctx context.Context, s *store.Store, id int64) (int64, error) {
	var ws *store.Workspace
	var err error
	if id > 0 {
		ws, err = s.WorkspaceByID(ctx, id)
	} else {
		ws, err = s.FirstWorkspace(ctx)
	}
	if errors.Is(err, store.ErrNotFound) {
		if id > 0 {
			return 0, &usageError{fmt.Sprintf("--workspace: workspace %d does not exist", id)}
		}
		return 0, errors.New("no workspace exists yet")
	}
	if err != nil {
		return 0, err
	}
	return ws.ID, nil
}

func versionUsage(flagName string, ref model.VersionRef, err error) error {
	switch {
	case errors.Is(err, store.ErrNoDraft):
		return &usageError{flagName + ": the assistant has no draft"}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, testruns.ErrNoSuchVersion):
		return &usageError{flagName + ": the assistant has no version " + ref.String()}
	case errors.Is(err, testruns.ErrNoCases):
		return &usageError{"--test-set: the test set has no cases"}
	}
	return err
}

// evalRunAttempts bounds the in-process retries of a run whose provider failed for a while
// (each attempt resumes where the last stopped; the last records the failures).
const evalRunAttempts = 4

// evalRun creates a run of the set against ref and executes it here.
func evalRun(ctx context.Context, a *app.App, ws, setID int64, ref model.VersionRef, by store.Author, progress io.Writer) (*store.TestSetRun, error) {
	run, err := a.TestRuns.Create(ctx, ws, setID, ref, by)
	if err != nil {
		flagName := "--version"
		return nil, versionUsage(flagName, ref, err)
	}
	fmt.Fprintf(progress, "run %d: test set %d against v%d, %d cases\n", run.ID, setID, run.Version, run.CasesTotal)
	for attempt := 1; ; attempt++ {
		last := attempt == evalRunAttempts
		err = a.TestRuns.Execute(ctx, testruns.Exec{WorkspaceID: ws, RunID: run.ID, LastAttempt: last,
			OnCase: func(done, total int) { fmt.Fprintf(progress, "  %d/%d\n", done, total) }})
		if err == nil || last || ctx.Err() != nil || !llm.IsRetryable(err) {
			break
		}
		fmt.Fprintf(progress, "  the provider failed (%v); resuming in %ds\n", err, attempt*2)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * 2 * time.Second):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", run.ID, err)
	}
	return a.Store.TestSetRunByID(ctx, ws, run.ID)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printComparison prints the table of cases and the totals of both runs.
func printComparison(w io.Writer, cmp *testruns.Comparison) {
	run, base := cmp.Run, cmp.Baseline
	fmt.Fprintf(w, "test set %d: run %d (v%d) against baseline run %d (v%d), tolerance %s\n\n",
		run.Run.TestSetID, run.Run.ID, run.Run.Version, base.Run.ID, base.Run.Version, strconv.FormatFloat(cmp.Tolerance, 'f', -1, 64))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"CASE", "NOW", "BASELINE"}
	head = append(head, cmp.RatingNames...)
	head = append(head, "COST USD", "")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, cc := range cmp.Cases {
		row := []string{strconv.FormatInt(cc.CaseID, 10), passWord(cc.Run), passWord(cc.Baseline)}
		for _, n := range cmp.RatingNames {
			row = append(row, ratingOf(cc.Run, n))
		}
		cost := "-"
		if cc.Run != nil {
			cost = model.Money(cc.Run.CostNanos).Exact()
		}
		mark := ""
		if cc.Regressed {
			mark = "REGRESSED"
		}
		row = append(row, cost, mark)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOTALS\tNOW\tBASELINE\t")
	mark := func(b bool) string {
		if b {
			return "REGRESSED"
		}
		return ""
	}
	fmt.Fprintf(tw, "pass rate\t%s (%d/%d)\t%s (%d/%d)\t%s\n", pct(run.Totals.PassRate), run.Totals.Passed, run.Totals.Cases,
		pct(base.Totals.PassRate), base.Totals.Passed, base.Totals.Cases, mark(cmp.PassRateRegressed()))
	for _, n := range cmp.RatingNames {
		fmt.Fprintf(tw, "average %s\t%s\t%s\t%s\n", n, avg(run.Totals.Ratings, n), avg(base.Totals.Ratings, n), mark(cmp.RatingRegressed(n)))
	}
	fmt.Fprintf(tw, "cost USD\t%s\t%s\t\n", model.Money(run.Totals.CostNanos).Exact(), model.Money(base.Totals.CostNanos).Exact())
	fmt.Fprintf(tw, "latency per turn\t%.0f ms\t%.0f ms\t\n", run.Totals.AvgLatencyMS, base.Totals.AvgLatencyMS)
	tw.Flush()
	fmt.Fprintln(w)
	if cmp.Worse() {
		fmt.Fprintln(w, "WORSE than the baseline:")
		for _, r := range cmp.Regressions {
			fmt.Fprintln(w, "  - "+r)
		}
	} else {
		fmt.Fprintln(w, "not worse than the baseline")
	}
}

func passWord(c *testruns.CaseReport) string {
	switch {
	case c == nil:
		return "-"
	case !model.JobFinished(c.Status):
		return c.Status
	case c.IsPassed():
		return "pass"
	}
	return "FAIL"
}

func ratingOf(c *testruns.CaseReport, name string) string {
	if c == nil {
		return "-"
	}
	for _, e := range c.Evaluations {
		if e.Name == name && e.Value != nil {
			return *e.Value
		}
	}
	return "-"
}

func avg(m map[string]float64, n string) string {
	v, ok := m[n]
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }
