package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// queueEnv is a server with an admin and a member of one workspace, and an inspector on the
// App's Redis.
type queueEnv struct {
	*env
	in *asynq.Inspector
}

func newQueueEnv(t *testing.T) *queueEnv {
	t.Helper()
	e := newEnv(t)
	ws := e.User("admin@example.com", "password-123")
	h, err := auth.HashPassword("password-456")
	if err != nil {
		t.Fatal(err)
	}
	// An owner of the workspace who is no installation admin.
	m := &store.User{WorkspaceID: ws.ID, Email: "member@example.com", PasswordHash: h, Role: model.UserRoleMember, CreatedAt: time.Now().UTC()}
	if err := e.App.Store.CreateUser(context.Background(), m, model.MemberOwner); err != nil {
		t.Fatal(err)
	}
	return &queueEnv{env: e, in: asynq.NewInspectorFromRedisClient(e.App.Redis)}
}

func (e *queueEnv) admin() *http.Client {
	c := e.Client()
	e.Login(c, "admin@example.com", "password-123")
	return c
}

func (e *queueEnv) member() *http.Client {
	c := e.Client()
	e.Login(c, "member@example.com", "password-456")
	return c
}

func (e *queueEnv) enqueue(queue, typ string, payload string, opts ...asynq.Option) *asynq.TaskInfo {
	e.T.Helper()
	ti, err := e.App.Queue.Enqueue(asynq.NewTask(typ, []byte(payload)), append([]asynq.Option{asynq.Queue(queue)}, opts...)...)
	if err != nil {
		e.T.Fatal(err)
	}
	return ti
}

func (e *queueEnv) info(queue string) *asynq.QueueInfo {
	e.T.Helper()
	qi, err := e.in.GetQueueInfo(queue)
	if err != nil {
		e.T.Fatal(err)
	}
	return qi
}

// retryTask makes a task in the retry state the real way: a worker runs it and it fails.
func (e *queueEnv) retryTask(queue string) *asynq.TaskInfo {
	e.T.Helper()
	srv := asynq.NewServerFromRedisClient(e.App.Redis, asynq.Config{
		Concurrency: 1, Queues: map[string]int{queue: 1}, Logger: quietLog{},
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:flaky", func(context.Context, *asynq.Task) error {
		return errors.New("the <b>provider</b> said no")
	})
	if err := srv.Start(mux); err != nil {
		e.T.Fatal(err)
	}
	ti := e.enqueue(queue, "test:flaky", `{"n":1}`, asynq.MaxRetry(5))
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := e.in.GetTaskInfo(queue, ti.ID)
		if err == nil && got.State == asynq.TaskStateRetry {
			srv.Shutdown()
			return got
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			e.T.Fatalf("task %s did not reach the retry state: %+v %v", ti.ID, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type quietLog struct{}

func (quietLog) Debug(...any) {}
func (quietLog) Info(...any)  {}
func (quietLog) Warn(...any)  {}
func (quietLog) Error(...any) {}
func (quietLog) Fatal(...any) {}

// rowCounts reads one queue's row of the Queues table.
func rowCounts(t *testing.T, d *goquery.Document, queue string) map[string]string {
	t.Helper()
	row := d.Find(fmt.Sprintf(`#queue-counts tr[data-queue=%q]`, queue))
	if row.Length() != 1 {
		t.Fatalf("queue %s: %d rows", queue, row.Length())
	}
	out := map[string]string{}
	row.Find("td[data-count]").Each(func(_ int, s *goquery.Selection) {
		out[s.AttrOr("data-count", "")] = strings.TrimSpace(s.Text())
	})
	return out
}

func TestQueuesAccess(t *testing.T) {
	e := newQueueEnv(t)
	ti := e.enqueue("default", "test:thing", `{}`)
	if err := e.in.ArchiveTask("default", ti.ID); err != nil {
		t.Fatal(err)
	}

	// Anonymous: to the login page, like every dashboard page.
	res := e.Get(e.Client(), "/queues")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fqueues" {
		t.Fatalf("anonymous: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = e.PostForm(e.Client(), "/queues/default/delete", url.Values{"id": {ti.ID}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("anonymous POST: %d", res.StatusCode)
	}

	// Member: 403 with a clear page, no nav link, actions refused and nothing changed.
	mc := e.member()
	res = e.Get(mc, "/queues")
	b := webtest.Body(t, res)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(b, "for admins only") {
		t.Fatalf("member GET /queues: %d %s", res.StatusCode, b)
	}
	for _, p := range []string{"/queues/default?state=archived", "/queues/default"} {
		res = e.Get(mc, p)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("member GET %s: %d", p, res.StatusCode)
		}
	}
	if n := webtest.Doc(t, e.Get(mc, "/conversations")).Find(`nav.side a[href="/queues"]`).Length(); n != 0 {
		t.Fatalf("member sees the Queues link")
	}
	tok := e.CSRF(mc, "/conversations")
	for _, a := range []string{"delete", "run", "pause"} {
		res = e.PostForm(mc, "/queues/default/"+a, url.Values{"_csrf": {tok}, "id": {ti.ID}, "state": {"archived"}})
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("member POST %s: %d", a, res.StatusCode)
		}
	}
	if qi := e.info("default"); qi.Archived != 1 || qi.Paused {
		t.Fatalf("a member's action changed the queue: %+v", qi)
	}

	// Admin: the page, the nav link.
	ac := e.admin()
	d := webtest.Doc(t, e.Get(ac, "/queues"))
	if d.Find(`nav.side a[href="/queues"][aria-current="page"]`).Length() != 1 {
		t.Fatal("admin: no current Queues link on /queues")
	}
	if d.Find(`#queue-counts`).Length() != 1 {
		t.Fatal("admin: no queue table")
	}
	if webtest.Doc(t, e.Get(ac, "/conversations")).Find(`nav.side a[href="/queues"]`).Length() != 1 {
		t.Fatal("admin: no Queues link on /conversations")
	}
}

func TestQueuesCounts(t *testing.T) {
	e := newQueueEnv(t)
	for i := range 3 {
		e.enqueue("default", "test:pending", fmt.Sprintf(`{"i":%d}`, i))
	}
	e.enqueue("low", "test:later", `{}`, asynq.ProcessIn(time.Hour))
	e.enqueue("low", "test:later", `{}`, asynq.ProcessIn(2*time.Hour))
	arch := e.enqueue("critical", "test:dead", `{}`)
	if err := e.in.ArchiveTask("critical", arch.ID); err != nil {
		t.Fatal(err)
	}
	e.retryTask("flaky")

	ac := e.admin()
	d := webtest.Doc(t, e.Get(ac, "/queues"))
	want := map[string]map[string]string{
		"critical": {"size": "1", "pending": "0", "archived": "1", "retry": "0", "state": "running"},
		"default":  {"size": "3", "pending": "3", "active": "0", "scheduled": "0", "state": "running"},
		"low":      {"size": "2", "pending": "0", "scheduled": "2"},
		"flaky":    {"size": "1", "retry": "1", "processed": "1", "failed": "1"},
	}
	for q, w := range want {
		got := rowCounts(t, d, q)
		for k, v := range w {
			if got[k] != v {
				t.Errorf("queue %s %s = %q, want %q (row %v)", q, k, got[k], v, got)
			}
		}
	}
	// Queue order: by priority, then the others.
	var order []string
	d.Find("#queue-counts tr[data-queue]").Each(func(_ int, s *goquery.Selection) { order = append(order, s.AttrOr("data-queue", "")) })
	if strings.Join(order, ",") != "critical,default,low,flaky" {
		t.Fatalf("order %v", order)
	}

	// The polling fragment: the table alone, polling itself.
	res := e.Get(ac, "/queues", "HX-Request", "true")
	fd := webtest.Doc(t, res)
	poll := fd.Find("#queue-counts")
	if poll.AttrOr("hx-trigger", "") != "every 5s" || poll.AttrOr("hx-get", "") != "/queues" || fd.Find("nav.side").Length() != 0 {
		t.Fatalf("fragment: %v %v", poll.AttrOr("hx-trigger", ""), fd.Find("nav.side").Length())
	}
	e.enqueue("default", "test:pending", `{"i":99}`)
	if got := rowCounts(t, webtest.Doc(t, e.Get(ac, "/queues", "HX-Request", "true")), "default")["pending"]; got != "4" {
		t.Fatalf("after one more: pending %q", got)
	}

	// The retry task's page: retried/max, last error escaped, next process time.
	d = webtest.Doc(t, e.Get(ac, "/queues/flaky?state=retry"))
	rows := d.Find("#queue-tasks tr[data-task]")
	if rows.Length() != 1 {
		t.Fatalf("retry rows: %d", rows.Length())
	}
	txt := rows.Text()
	if !strings.Contains(txt, "1 / 5") || !strings.Contains(txt, "the <b>provider</b> said no") || !strings.Contains(txt, "test:flaky") || !strings.Contains(txt, "UTC") {
		t.Fatalf("retry row: %s", txt)
	}
}

func TestQueuesPagingAndErrors(t *testing.T) {
	e := newQueueEnv(t)
	for i := range 25 {
		e.enqueue("default", "test:many", fmt.Sprintf(`{"i":%d}`, i))
	}
	ac := e.admin()
	d := webtest.Doc(t, e.Get(ac, "/queues/default?state=pending"))
	if n := d.Find("#queue-tasks tr[data-task]").Length(); n != 20 {
		t.Fatalf("page 1: %d rows", n)
	}
	if !strings.Contains(d.Find(".pager").Text(), "Page 1 of 2") {
		t.Fatalf("pager: %q", d.Find(".pager").Text())
	}
	first := map[string]bool{}
	d.Find("#queue-tasks tr[data-task]").Each(func(_ int, s *goquery.Selection) { first[s.AttrOr("data-task", "")] = true })
	// The htmx fragment of page 2: the section alone, the other 5 tasks.
	fd := webtest.Doc(t, e.Get(ac, "/queues/default?state=pending&page=2", "HX-Request", "true"))
	rows := fd.Find("#queue-tasks tr[data-task]")
	if rows.Length() != 5 || fd.Find("nav.side").Length() != 0 {
		t.Fatalf("page 2: %d rows", rows.Length())
	}
	rows.Each(func(_ int, s *goquery.Selection) {
		if first[s.AttrOr("data-task", "")] {
			t.Errorf("task %s on both pages", s.AttrOr("data-task", ""))
		}
	})
	for path, status := range map[string]int{
		"/queues/default?state=bogus": http.StatusBadRequest,
		"/queues/default?page=0":      http.StatusBadRequest,
		"/queues/default?page=x":      http.StatusBadRequest,
		"/queues/nosuchqueue":         http.StatusNotFound,
	} {
		res := e.Get(ac, path)
		res.Body.Close()
		if res.StatusCode != status {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, status)
		}
	}
	// Empty known queue: a page, no error.
	res := e.Get(ac, "/queues/low?state=archived")
	if b := webtest.Body(t, res); res.StatusCode != http.StatusOK || !strings.Contains(b, "No archived task") {
		t.Fatalf("empty queue: %d", res.StatusCode)
	}
}

func TestQueuesActions(t *testing.T) {
	e := newQueueEnv(t)
	ac := e.admin()
	tok := e.CSRF(ac, "/queues")

	arch := e.enqueue("default", "test:dead", `{"a":1}`)
	arch2 := e.enqueue("default", "test:dead", `{"a":2}`)
	for _, id := range []string{arch.ID, arch2.ID} {
		if err := e.in.ArchiveTask("default", id); err != nil {
			t.Fatal(err)
		}
	}
	sched := e.enqueue("low", "test:later", `{}`, asynq.ProcessIn(time.Hour))

	// Without CSRF: 403 and nothing changes.
	res := e.PostForm(ac, "/queues/default/run", url.Values{"id": {arch.ID}, "state": {"archived"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("no CSRF: %d", res.StatusCode)
	}
	if qi := e.info("default"); qi.Archived != 2 || qi.Pending != 0 {
		t.Fatalf("no CSRF changed the queue: %+v", qi)
	}

	// Run an archived task now (htmx): it is pending again; the section comes back.
	res = e.PostForm(ac, "/queues/default/run", url.Values{"_csrf": {tok}, "id": {arch.ID}, "state": {"archived"}, "page": {"1"}}, "HX-Request", "true")
	d := webtest.Doc(t, res)
	if res.StatusCode != http.StatusOK || d.Find("#queue-tasks").Length() != 1 || !strings.Contains(d.Find(".notice").Text(), "pending again") {
		t.Fatalf("run: %d %s", res.StatusCode, d.Text())
	}
	if d.Find(`tr[data-task="`+arch.ID+`"]`).Length() != 0 || d.Find(`tr[data-task="`+arch2.ID+`"]`).Length() != 1 {
		t.Fatal("run: the archived list is not refreshed")
	}
	if qi := e.info("default"); qi.Archived != 1 || qi.Pending != 1 {
		t.Fatalf("after run: %+v", qi)
	}
	// Run it again: it is pending now, a precise 409.
	res = e.PostForm(ac, "/queues/default/run", url.Values{"_csrf": {tok}, "id": {arch.ID}, "state": {"archived"}})
	if b := webtest.Body(t, res); res.StatusCode != http.StatusConflict || !strings.Contains(b, "pending") {
		t.Fatalf("run a pending task: %d %s", res.StatusCode, b)
	}
	// Delete refuses a pending task, deletes an archived one (plain form: 303 back).
	res = e.PostForm(ac, "/queues/default/delete", url.Values{"_csrf": {tok}, "id": {arch.ID}, "state": {"archived"}})
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("delete a pending task: %d", res.StatusCode)
	}
	res = e.PostForm(ac, "/queues/default/delete", url.Values{"_csrf": {tok}, "id": {arch2.ID}, "state": {"archived"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/queues/default?state=archived&page=1" {
		t.Fatalf("delete: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if qi := e.info("default"); qi.Archived != 0 || qi.Pending != 1 {
		t.Fatalf("after delete: %+v", qi)
	}
	if _, err := e.in.GetTaskInfo("default", arch2.ID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Fatalf("deleted task still there: %v", err)
	}
	res = e.PostForm(ac, "/queues/default/delete", url.Values{"_csrf": {tok}, "id": {arch2.ID}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("delete twice: %d", res.StatusCode)
	}

	// Run a scheduled task now.
	res = e.PostForm(ac, "/queues/low/run", url.Values{"_csrf": {tok}, "id": {sched.ID}, "state": {"scheduled"}})
	res.Body.Close()
	if qi := e.info("low"); res.StatusCode != http.StatusSeeOther || qi.Scheduled != 0 || qi.Pending != 1 {
		t.Fatalf("run scheduled: %d %+v", res.StatusCode, qi)
	}

	// Archive a retry task; then run it from the archive.
	rt := e.retryTask("flaky")
	res = e.PostForm(ac, "/queues/flaky/archive", url.Values{"_csrf": {tok}, "id": {rt.ID}, "state": {"retry"}}, "HX-Request", "true")
	res.Body.Close()
	if qi := e.info("flaky"); res.StatusCode != http.StatusOK || qi.Retry != 0 || qi.Archived != 1 {
		t.Fatalf("archive retry: %d %+v", res.StatusCode, qi)
	}
	res = e.PostForm(ac, "/queues/flaky/archive", url.Values{"_csrf": {tok}, "id": {rt.ID}, "state": {"retry"}})
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("archive an archived task: %d", res.StatusCode)
	}

	// Pause and resume (htmx): the counts fragment comes back.
	res = e.PostForm(ac, "/queues/default/pause", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	d = webtest.Doc(t, res)
	if !e.info("default").Paused || rowCounts(t, d, "default")["state"] != "paused" {
		t.Fatalf("pause: %d", res.StatusCode)
	}
	res = e.PostForm(ac, "/queues/default/pause", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !e.info("default").Paused {
		t.Fatalf("pause twice: %d", res.StatusCode)
	}
	res = e.PostForm(ac, "/queues/default/resume", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || e.info("default").Paused {
		t.Fatalf("resume: %d", res.StatusCode)
	}
	// A queue that never had a task cannot be paused; an unknown one is 404.
	for path, status := range map[string]int{"/queues/nosuch/pause": http.StatusNotFound, "/queues/default/run": http.StatusBadRequest} {
		res = e.PostForm(ac, path, url.Values{"_csrf": {tok}})
		res.Body.Close()
		if res.StatusCode != status {
			t.Errorf("POST %s: %d, want %d", path, res.StatusCode, status)
		}
	}
}

func TestQueuesPayloadEscaped(t *testing.T) {
	e := newQueueEnv(t)
	evil := `{"text":"<script>alert(1)</script><img src=x onerror=alert(2)>"}`
	e.enqueue("default", "test:evil", evil)
	long := `{"text":"` + strings.Repeat("é", 1000) + `"}`
	e.enqueue("default", "test:long", long)
	e.enqueue("default", "test:bin", "\xff\xfe\x00binary")
	ac := e.admin()
	res := e.Get(ac, "/queues/default?state=pending")
	b := webtest.Body(t, res)
	if strings.Contains(b, "<script>alert") || strings.Contains(b, "<img src=x") {
		t.Fatal("payload rendered as HTML")
	}
	if !strings.Contains(b, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatal("escaped payload missing")
	}
	d, err := goquery.NewDocumentFromReader(strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	d.Find("#queue-tasks code.payload").Each(func(_ int, s *goquery.Selection) { texts = append(texts, s.Text()) })
	if len(texts) != 3 || texts[0] != evil {
		t.Fatalf("payloads: %q", texts)
	}
	if n := len([]rune(texts[1])); n > 350 || !strings.Contains(texts[1], "… ("+strconv.Itoa(len(long))+" bytes)") {
		t.Fatalf("long payload not truncated: %d runes", n)
	}
	if texts[2] != "(9 bytes of binary data)" {
		t.Fatalf("binary payload: %q", texts[2])
	}
	if d.Find("#queue-tasks td[hx-disable] code.payload").Length() != 3 {
		t.Fatal("payload cells are not hx-disable")
	}
}
