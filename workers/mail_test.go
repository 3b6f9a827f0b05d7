package workers_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// mailApp is an app whose mail goes to a fake SMTP server.
func mailApp(t *testing.T) (*app.App, *testkit.FakeSMTP) {
	t.Helper()
	srv := testkit.NewFakeSMTP(t)
	a := testkit.App(t, testkit.ConfigWith(t, map[string]string{"PARLEY_SMTP_URL": srv.URL, "PARLEY_MAIL_FROM": "Parley <parley@example.test>"}))
	return a, srv
}

// queued returns the pending tasks of type typ in the default queue.
func queued(t *testing.T, a *app.App, typ string) []*asynq.TaskInfo {
	t.Helper()
	infos, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(workers.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var out []*asynq.TaskInfo
	for _, ti := range infos {
		if ti.Type == typ {
			out = append(out, ti)
		}
	}
	return out
}

// Enqueueing mail writes the row and enqueues its send task (carrying the row's id, never
// the body); the task sends it through SMTP once.
func TestMailSendTask(t *testing.T) {
	a, srv := mailApp(t)
	ctx := context.Background()
	if err := a.Mail.Enqueue(ctx, "ann@example.test", "Hello", "The secret body", ""); err != nil {
		t.Fatal(err)
	}
	tasks := queued(t, a, workers.TypeMailSend)
	if len(tasks) != 1 {
		t.Fatalf("%d send tasks", len(tasks))
	}
	if bytes.Contains(tasks[0].Payload, []byte("secret")) || bytes.Contains(tasks[0].Payload, []byte("ann@")) {
		t.Fatalf("the task payload carries the message: %s", tasks[0].Payload)
	}
	h := &workers.Mail{Mail: a.Mail, Store: a.Store, Tasks: a.Tasks, Log: testkit.Logger(t)}
	mux := workers.NewMux(workers.Handlers{Mail: h, Tasks: a.Tasks})
	for i := 0; i < 2; i++ { // a task run twice (asynq's at-least-once) sends once
		if err := mux.ProcessTask(ctx, asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "ann@example.test" || !bytes.Contains(msgs[0].Data, []byte("The secret body")) {
		t.Fatalf("messages: %+v", msgs)
	}
	if err := mux.ProcessTask(ctx, asynq.NewTask(workers.TypeMailSend, []byte(`{"mail_id":0}`))); err == nil {
		t.Fatal("a bad payload was accepted")
	}
}

// A message whose task Redis lost is sent by the sweep once it is due; later sweeps send
// nothing more.
func TestMailSweepSendsLostMessages(t *testing.T) {
	a, srv := mailApp(t)
	ctx := context.Background()
	if err := a.Mail.Enqueue(ctx, "bob@example.test", "Hello", "body", ""); err != nil {
		t.Fatal(err)
	}
	flush(t, a.Redis)
	h := &workers.Mail{Mail: a.Mail, Store: a.Store, Tasks: a.Tasks, Log: testkit.Logger(t)}
	// Not due yet: the sweep leaves a fresh message to its own task.
	if err := h.HandleSweep(ctx, a.Tasks.MailSweep()); err != nil {
		t.Fatal(err)
	}
	if n := len(queued(t, a, workers.TypeMailSend)); n != 0 {
		t.Fatalf("the sweep took a fresh message: %d tasks", n)
	}
	h.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if err := h.HandleSweep(ctx, a.Tasks.MailSweep()); err != nil {
		t.Fatal(err)
	}
	tasks := queued(t, a, workers.TypeMailSend)
	if len(tasks) != 1 {
		t.Fatalf("%d send tasks after the sweep", len(tasks))
	}
	// The next sweep (the task not run yet) leaves it to that task.
	if err := h.HandleSweep(ctx, a.Tasks.MailSweep()); err != nil {
		t.Fatal(err)
	}
	if n := len(queued(t, a, workers.TypeMailSend)); n != 1 {
		t.Fatalf("%d send tasks after a second sweep", n)
	}
	if err := h.HandleSend(ctx, asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatal(err)
	}
	srv.Wait(t, 1, 5*time.Second)
	h.Now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	flush(t, a.Redis)
	if err := h.HandleSweep(ctx, a.Tasks.MailSweep()); err != nil {
		t.Fatal(err)
	}
	if n := len(queued(t, a, workers.TypeMailSend)); n != 0 {
		t.Fatalf("a sent message was enqueued again: %d", n)
	}
	rows, err := a.Store.MailTo(ctx, "bob@example.test")
	if err != nil || len(rows) != 1 || rows[0].State != store.MailSent {
		t.Fatalf("rows: %+v %v", rows, err)
	}
}

// The sweep is on the schedule.
func TestMailSweepIsScheduled(t *testing.T) {
	a, _ := mailApp(t)
	for _, en := range (workers.Schedule{Tasks: a.Tasks}).Entries() {
		if en.Task.Type() == workers.TypeMailSweep {
			return
		}
	}
	t.Fatal("mail:sweep is not scheduled")
}
