package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
	"github.com/parleyhq/parley/workers"
)

// The Queues page (issue 8): the asynq queues in Redis, for admins. Our own page rather than
// asynqmon, whose bundled React UI does not fit the CSP and no-CDN rules. Everything goes
// through asynq.Inspector on the App's Redis client (the in-process one works too).

// queuePageSize is how many tasks one page of a queue's state lists.
const queuePageSize = 20

// queueStates are the task states a queue page lists, in display order.
var queueStates = []struct{ State, Label string }{
	{"pending", "Pending"}, {"active", "Active"}, {"scheduled", "Scheduled"},
	{"retry", "Retry"}, {"archived", "Archived"}, {"completed", "Completed"},
}

func (s *Handler) inspector() *asynq.Inspector { return asynq.NewInspectorFromRedisClient(s.Redis) }

// queueNames is our queues (critical, default, low) and any other queue Redis knows, by
// priority then name.
func queueNames(in *asynq.Inspector) ([]string, error) {
	known, err := in.Queues()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(workers.QueuePriorities)+len(known))
	for q := range workers.QueuePriorities {
		names = append(names, q)
	}
	for _, q := range known {
		if _, ok := workers.QueuePriorities[q]; !ok {
			names = append(names, q)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if pa, pb := workers.QueuePriorities[a], workers.QueuePriorities[b]; pa != pb {
			return pb - pa
		}
		return strings.Compare(a, b)
	})
	return names, nil
}

func queueRow(in *asynq.Inspector, name string) (pages.QueueRow, error) {
	qi, err := in.GetQueueInfo(name)
	if errors.Is(err, asynq.ErrQueueNotFound) || err != nil && strings.Contains(err.Error(), "does not exist") {
		return pages.QueueRow{Name: name, Missing: true, Latency: "—"}, nil
	}
	if err != nil {
		return pages.QueueRow{}, fmt.Errorf("queue %s: %w", name, err)
	}
	return pages.QueueRow{
		Name: name, Size: qi.Size, Pending: qi.Pending, Active: qi.Active, Scheduled: qi.Scheduled,
		Retry: qi.Retry, Archived: qi.Archived, Completed: qi.Completed,
		ProcessedToday: qi.Processed, FailedToday: qi.Failed, Paused: qi.Paused, Latency: formatLatency(qi.Latency),
	}, nil
}

func formatLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func (s *Handler) queuesData(c echo.Context, flash string) (pages.QueuesData, error) {
	in := s.inspector()
	names, err := queueNames(in)
	if err != nil {
		return pages.QueuesData{}, err
	}
	d := pages.QueuesData{CSRF: csrfToken(c), Flash: flash}
	for _, n := range names {
		r, err := queueRow(in, n)
		if err != nil {
			return d, err
		}
		d.Queues = append(d.Queues, r)
	}
	return d, nil
}

// queuesList is GET /queues: every queue's counts; htmx polling gets the table alone.
func (s *Handler) queuesList(c echo.Context) error {
	d, err := s.queuesData(c, "")
	if err != nil {
		return err
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.QueuesCounts(d))
	}
	p, err := s.page(c, "Queues", "queues")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.QueuesPage(p, d))
}

// knownQueue returns the queue named in the path, or 404.
func knownQueue(c echo.Context, in *asynq.Inspector) (string, error) {
	q := c.Param("queue")
	names, err := queueNames(in)
	if err != nil {
		return "", err
	}
	if !slices.Contains(names, q) {
		return "", echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("There is no queue named %q.", q))
	}
	return q, nil
}

func parseQueueState(s string) (string, error) {
	if s == "" {
		return "pending", nil
	}
	for _, st := range queueStates {
		if st.State == s {
			return s, nil
		}
	}
	return "", echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Unknown task state %q: use pending, active, scheduled, retry, archived or completed.", s))
}

func parseQueuePage(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("page must be a whole number from 1; got %q.", s))
	}
	return n, nil
}

// queueTasksData lists one page of a queue's tasks in one state.
func (s *Handler) queueTasksData(c echo.Context, in *asynq.Inspector, queue, state string, page int) (pages.QueueTasksData, error) {
	row, err := queueRow(in, queue)
	if err != nil {
		return pages.QueueTasksData{}, err
	}
	counts := map[string]int{"pending": row.Pending, "active": row.Active, "scheduled": row.Scheduled,
		"retry": row.Retry, "archived": row.Archived, "completed": row.Completed}
	d := pages.QueueTasksData{Queue: row, State: state, Page: page, PageSize: queuePageSize, CSRF: csrfToken(c)}
	for _, st := range queueStates {
		d.Tabs = append(d.Tabs, pages.QueueStateTab{State: st.State, Label: st.Label, Count: counts[st.State]})
	}
	d.Pages = max(1, (counts[state]+queuePageSize-1)/queuePageSize)
	if row.Missing {
		return d, nil
	}
	opts := []asynq.ListOption{asynq.PageSize(queuePageSize), asynq.Page(page)}
	var tasks []*asynq.TaskInfo
	switch state {
	case "pending":
		tasks, err = in.ListPendingTasks(queue, opts...)
	case "active":
		tasks, err = in.ListActiveTasks(queue, opts...)
	case "scheduled":
		tasks, err = in.ListScheduledTasks(queue, opts...)
	case "retry":
		tasks, err = in.ListRetryTasks(queue, opts...)
	case "archived":
		tasks, err = in.ListArchivedTasks(queue, opts...)
	case "completed":
		tasks, err = in.ListCompletedTasks(queue, opts...)
	}
	if errors.Is(err, asynq.ErrQueueNotFound) {
		err = nil
	}
	if err != nil {
		return d, fmt.Errorf("list %s tasks of %s: %w", state, queue, err)
	}
	for _, t := range tasks {
		d.Tasks = append(d.Tasks, taskRow(t))
	}
	return d, nil
}

// payloadPreview is a payload as text, at most maxPayloadRunes runes; binary payloads are
// described, not shown. templ escapes it.
const maxPayloadRunes = 300

func payloadPreview(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	if !utf8.Valid(b) {
		return fmt.Sprintf("(%d bytes of binary data)", len(b))
	}
	s := string(b)
	if utf8.RuneCountInString(s) > maxPayloadRunes {
		r := []rune(s)
		s = string(r[:maxPayloadRunes]) + "… (" + strconv.Itoa(len(b)) + " bytes)"
	}
	return s
}

func formatTaskTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func taskRow(t *asynq.TaskInfo) pages.QueueTaskRow {
	r := pages.QueueTaskRow{
		ID: t.ID, Type: t.Type, Payload: payloadPreview(t.Payload), Retried: t.Retried, MaxRetry: t.MaxRetry,
		LastError: t.LastErr, NextProcessAt: formatTaskTime(t.NextProcessAt),
	}
	if r.LastError != "" && !t.LastFailedAt.IsZero() {
		r.LastFailedAt = "failed " + formatTaskTime(t.LastFailedAt)
	}
	if utf8.RuneCountInString(r.LastError) > 500 {
		r.LastError = string([]rune(r.LastError)[:500]) + "…"
	}
	return r
}

// queueShow is GET /queues/:queue?state=retry&page=2; htmx (state tabs, pager) gets the task
// section alone.
func (s *Handler) queueShow(c echo.Context) error {
	in := s.inspector()
	queue, err := knownQueue(c, in)
	if err != nil {
		return err
	}
	state, err := parseQueueState(c.QueryParam("state"))
	if err != nil {
		return err
	}
	page, err := parseQueuePage(c.QueryParam("page"))
	if err != nil {
		return err
	}
	d, err := s.queueTasksData(c, in, queue, state, page)
	if err != nil {
		return err
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.QueueTasks(d))
	}
	p, err := s.page(c, "Queue "+queue, "queues")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.QueueTasksPage(p, d))
}

// queueTaskAction is POST /queues/:queue/{run,archive,delete} with the task id in the form:
// run a scheduled, retry or archived task now; archive a retry task; delete an archived one.
// The task's state is checked first, so a task that moved meanwhile gets a precise 409.
func (s *Handler) queueTaskAction(action string) echo.HandlerFunc {
	allowed := map[string][]asynq.TaskState{
		"run":     {asynq.TaskStateScheduled, asynq.TaskStateRetry, asynq.TaskStateArchived},
		"archive": {asynq.TaskStateRetry},
		"delete":  {asynq.TaskStateArchived},
	}[action]
	return func(c echo.Context) error {
		in := s.inspector()
		queue, err := knownQueue(c, in)
		if err != nil {
			return err
		}
		id := strings.TrimSpace(c.FormValue("id"))
		if id == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "Say which task: the form needs an id.")
		}
		state, err := parseQueueState(c.FormValue("state"))
		if err != nil {
			return err
		}
		page, err := parseQueuePage(c.FormValue("page"))
		if err != nil {
			return err
		}
		ti, err := in.GetTaskInfo(queue, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("Task %s is no longer in queue %s: it may have run or been deleted meanwhile.", id, queue))
		}
		if err != nil {
			return err
		}
		if !slices.Contains(allowed, ti.State) {
			return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("Task %s is %s now: it cannot be %s.", id, ti.State, map[string]string{"run": "run now", "archive": "archived", "delete": "deleted"}[action]))
		}
		var flash string
		switch action {
		case "run":
			err, flash = in.RunTask(queue, id), "Task "+id+" is pending again and runs as soon as a worker is free."
		case "archive":
			err, flash = in.ArchiveTask(queue, id), "Task "+id+" is archived: it will not be retried."
		case "delete":
			err, flash = in.DeleteTask(queue, id), "Task "+id+" is deleted."
		}
		if errors.Is(err, asynq.ErrTaskNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("Task %s is no longer in queue %s: it may have run or been deleted meanwhile.", id, queue))
		}
		if err != nil {
			return err
		}
		s.Log.Info("queue task action", "action", action, "queue", queue, "task_id", id, "type", ti.Type, "user_id", current(c).User.ID)
		if !htmx.IsFragment(c) {
			return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Queue, queue)+"?state="+state+"&page="+strconv.Itoa(page))
		}
		d, err := s.queueTasksData(c, in, queue, state, page)
		if err != nil {
			return err
		}
		if page > d.Pages { // the last task of the last page went away
			if d, err = s.queueTasksData(c, in, queue, state, d.Pages); err != nil {
				return err
			}
		}
		d.Flash = flash
		return htmx.Render(c, http.StatusOK, pages.QueueTasks(d))
	}
}

// queuePause is POST /queues/:queue/pause and /resume: workers stop (or resume) taking tasks
// from the queue. Pausing a paused queue, or resuming a running one, changes nothing.
func (s *Handler) queuePause(pause bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		in := s.inspector()
		queue, err := knownQueue(c, in)
		if err != nil {
			return err
		}
		row, err := queueRow(in, queue)
		if err != nil {
			return err
		}
		if row.Missing {
			return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("Queue %s has never had a task: there is nothing to pause or resume.", queue))
		}
		flash := "Queue " + queue + " is running again."
		if pause {
			flash = "Queue " + queue + " is paused: its tasks wait until it is resumed."
		}
		if row.Paused != pause {
			if pause {
				err = in.PauseQueue(queue)
			} else {
				err = in.UnpauseQueue(queue)
			}
			if err != nil {
				return err
			}
			s.Log.Info("queue paused", "queue", queue, "paused", pause, "user_id", current(c).User.ID)
		}
		if !htmx.IsFragment(c) {
			return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Queues))
		}
		d, err := s.queuesData(c, flash)
		if err != nil {
			return err
		}
		return htmx.Render(c, http.StatusOK, pages.QueuesCounts(d))
	}
}
