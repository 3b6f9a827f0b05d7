//go:build fault

package fault

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/parleyhq/parley/app/store"
)

// The machine's PostgreSQL, where every scenario but one gets a fresh database.
const mainPG = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const (
	appSecret     = "fault-app-secret-0123456789"
	verifyToken   = "fault-verify-token"
	accessToken   = "EAAGfaultaccesstoken0123456789"
	phoneNumberID = "106540352242922"
	secretKey     = "fault-secret-key-0123456789abcdef0123456789abcdef"
	adminEmail    = "fault@parley.local"
	adminPassword = "fault-password-123"
	widgetOrigin  = "https://shop.example"
)

var (
	binPath string // the parley binary built by TestMain
	pgBin   string // /usr/lib/postgresql/<v>/bin, for the private cluster
	tmpRoot string
)

func TestMain(m *testing.M) {
	var err error
	tmpRoot, err = os.MkdirTemp("", "parley-fault-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: temp dir:", err)
		os.Exit(1)
	}
	_ = os.Chmod(tmpRoot, 0o755) // the private PostgreSQL runs as the postgres user
	root, _ := filepath.Abs("../..")
	binPath = filepath.Join(tmpRoot, "parley")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: go build of the parley binary: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		os.RemoveAll(tmpRoot)
	} else {
		fmt.Fprintln(os.Stderr, "fault: logs kept in", tmpRoot)
	}
	os.Exit(code)
}

// ---- small helpers ----

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 200ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---- processes ----

// proc is one child process whose output goes to a log file.
type proc struct {
	name string
	args []string
	env  []string
	log  string
	dir  string // working directory (default: the test's)

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	exit   error
	starts int
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.starts++
	fmt.Fprintf(f, "---- fault: start #%d of %s at %s ----\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	p.mu.Unlock()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.exit = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.exit = err
		p.mu.Unlock()
		close(done)
	}()
}

func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// signal sends sig and, when wait > 0, waits that long for the exit (then kills).
func (p *proc) signal(sig syscall.Signal, wait time.Duration) (exited bool, took time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || !p.running() {
		return true, 0
	}
	t0 := time.Now()
	_ = cmd.Process.Signal(sig)
	if wait <= 0 {
		<-done
		return true, time.Since(t0)
	}
	select {
	case <-done:
		return true, time.Since(t0)
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
		return false, time.Since(t0)
	}
}

func (p *proc) stop() {
	if p.running() {
		p.signal(syscall.SIGTERM, 30*time.Second)
	}
}

func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// tail returns the last n lines of the log.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- Redis ----

// redisServer is a private redis-server on a free port.
type redisServer struct {
	port int
	p    *proc
}

func startRedis(t *testing.T, dir string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("FAIL: redis-server is not installed (apt-get install redis-server): the fault suite needs a private Redis per scenario: %v", err)
	}
	r := &redisServer{port: freePort(t)}
	r.p = &proc{name: "redis", log: filepath.Join(dir, "redis.log"), env: os.Environ(),
		args: []string{bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir}}
	r.startWait(t)
	t.Cleanup(func() { r.p.signal(syscall.SIGKILL, 0) })
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) startWait(t *testing.T) {
	t.Helper()
	r.p.start(t)
	if !waitFor(10*time.Second, r.ping) {
		t.Fatalf("private redis-server on port %d did not answer PING:\n%s", r.port, tail(r.p.log, 20))
	}
}

func (r *redisServer) ping() bool {
	return r.do("PING") == "+PONG"
}

// do sends one inline command and returns the first reply line.
func (r *redisServer) do(cmd string) string {
	return redisDo(fmt.Sprintf("127.0.0.1:%d", r.port), cmd)
}

// redisDo sends one inline command to the Redis at addr and returns the first reply line.
func redisDo(addr, cmd string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "%s\r\n", cmd)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// ---- PostgreSQL ----

// createDB makes a fresh database on the server at adminURL (a URL to its postgres database)
// and returns its URL; it is dropped when the test ends.
func createDB(t *testing.T, adminURL string) string {
	t.Helper()
	name := "parley_fault_" + randHex(6)
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		t.Fatalf("FAIL: cannot create a database on %s (the fault suite needs PostgreSQL with trust auth for user postgres): %v", adminURL, err)
	}
	db.Close()
	t.Cleanup(func() {
		db, err := sql.Open("pgx", adminURL)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return strings.Replace(adminURL, "/postgres?", "/"+name+"?", 1)
}

// pgCluster is a private PostgreSQL cluster (initdb + pg_ctl), so that stopping it disturbs
// nobody.
type pgCluster struct {
	data, sock, logf string
	port             int
}

func findPGBin(t *testing.T) string {
	t.Helper()
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(ms)
	if len(ms) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
		t.Fatal("FAIL: initdb is not installed (/usr/lib/postgresql/*/bin/initdb): the PostgreSQL scenario needs a private cluster")
	}
	return filepath.Dir(ms[len(ms)-1])
}

// asPostgres runs a PostgreSQL tool as the postgres user when we are root (initdb refuses root).
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startPGCluster(t *testing.T, dir string) *pgCluster {
	t.Helper()
	bin := findPGBin(t)
	c := &pgCluster{data: filepath.Join(dir, "pgdata"), sock: filepath.Join(dir, "pgsock"), logf: filepath.Join(dir, "postgres.log"), port: freePort(t)}
	for _, d := range []string{c.data, c.sock} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{c.data, c.sock, dir} {
			if out, err := exec.Command("chown", "postgres:postgres", p).CombinedOutput(); err != nil {
				t.Fatalf("FAIL: chown %s to postgres: %v %s", p, err, out)
			}
		}
	}
	if out, err := asPostgres(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("FAIL: initdb of the private PostgreSQL cluster: %v\n%s", err, out)
	}
	pgBin = bin
	c.start(t)
	t.Cleanup(func() {
		_ = asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", c.data, "stop", "-m", "immediate", "-w").Run()
	})
	return c
}

func (c *pgCluster) adminURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c max_connections=100", c.port, c.sock)
	if out, err := asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", c.data, "-l", c.logf, "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		t.Fatalf("FAIL: pg_ctl start of the private cluster: %v\n%s\n%s", err, out, tail(c.logf, 20))
	}
}

func (c *pgCluster) stopImmediate(t *testing.T) {
	t.Helper()
	if out, err := asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", c.data, "stop", "-m", "immediate", "-w").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop -m immediate: %v\n%s", err, out)
	}
}

// ---- a scenario's deployment ----

// deployment is one scenario's Parley: a database, a private Redis, the fakes and the three
// roles as processes.
type deployment struct {
	t       *testing.T
	dir     string
	dbURL   string
	redis   *redisServer
	graph   *fakeGraph
	llm     *fakeLLM
	webPort int
	webURL  string
	env     []string
	web     *proc
	worker  *proc
	sched   *proc
	st      *store.Store

	assistantID int64
	publicKey   string
}

type deployOptions struct {
	pgAdminURL string        // default: the machine's PostgreSQL
	sweep      time.Duration // PARLEY_SWEEP_INTERVAL (default 2s)
	window     time.Duration // PARLEY_WHATSAPP_WINDOW (default 24h)
	llmDelay   time.Duration
	env        []string // more variables for the roles (PARLEY_WORKER_CONCURRENCY=...)
}

func deploy(t *testing.T, o deployOptions) *deployment {
	t.Helper()
	if o.pgAdminURL == "" {
		o.pgAdminURL = mainPG
	}
	if o.sweep == 0 {
		o.sweep = 2 * time.Second
	}
	if o.window == 0 {
		o.window = 24 * time.Hour
	}
	dir, err := os.MkdirTemp(tmpRoot, strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	d := &deployment{t: t, dir: dir}
	d.dbURL = createDB(t, o.pgAdminURL)
	if d.redis == nil {
		d.redis = startRedis(t, dir)
	}
	d.llm = newFakeLLM(t, o.llmDelay)
	d.graph = newFakeGraph(t)
	d.webPort = freePort(t)
	d.webURL = fmt.Sprintf("http://127.0.0.1:%d", d.webPort)
	d.graph.webhookURL = d.webURL + "/webhooks/whatsapp"
	if !strings.Contains(d.dbURL, "/parley_fault_") || d.redis.port == 6379 {
		t.Fatalf("refusing to run on a shared database or Redis: %s, redis port %d", d.dbURL, d.redis.port)
	}
	d.env = append(baseEnv(),
		"DATABASE_URL="+d.dbURL,
		"REDIS_URL="+d.redis.url())
	d.env = append(d.env, d.parleyEnv(o)...)
	d.env = append(d.env, o.env...)
	mk := func(role string) *proc {
		return &proc{name: role, args: []string{binPath, role}, env: d.env, log: filepath.Join(dir, role+".log")}
	}
	d.web, d.worker, d.sched = mk("web"), mk("worker"), mk("scheduler")
	t.Cleanup(func() {
		for _, p := range []*proc{d.web, d.worker, d.sched} {
			p.stop()
		}
		if d.st != nil {
			d.st.Close()
		}
		if t.Failed() {
			for _, p := range []*proc{d.web, d.worker, d.sched, d.redis.p} {
				t.Logf("---- last lines of %s (%s) ----\n%s", p.name, p.log, tail(p.log, 40))
			}
		}
	})

	d.run("migrate", "up")
	d.web.start(t)
	d.waitReady(60 * time.Second)
	key := strings.TrimSpace(d.run("apikey", "create", "--name", "fault"))
	d.createAssistant(key)
	d.worker.start(t)
	d.sched.start(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, d.dbURL, "")
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
	// The worker logs "worker started" once it serves.
	if !waitFor(30*time.Second, func() bool { return logHas(d.worker.log, "worker started") }) {
		t.Fatalf("the worker did not start:\n%s", tail(d.worker.log, 30))
	}
	return d
}

// parleyEnv is the configuration every scenario's processes share: the fakes, the ports, the
// admin and the sweep period.
func (d *deployment) parleyEnv(o deployOptions) []string {
	return []string{
		"PARLEY_SECRET_KEY=" + secretKey,
		"PARLEY_ADDR=127.0.0.1:" + strconv.Itoa(d.webPort),
		"PARLEY_BASE_URL=" + d.webURL,
		"PARLEY_ADMIN_EMAIL=" + adminEmail,
		"PARLEY_ADMIN_PASSWORD=" + adminPassword,
		"PARLEY_WHATSAPP_APP_SECRET=" + appSecret,
		"PARLEY_WHATSAPP_VERIFY_TOKEN=" + verifyToken,
		"PARLEY_WHATSAPP_GRAPH_URL=" + d.graph.URL + "/v21.0",
		"PARLEY_WHATSAPP_WINDOW=" + o.window.String(),
		"PARLEY_SWEEP_INTERVAL=" + o.sweep.String(),
		"PARLEY_LLM_BASE_URL=" + d.llm.URL + "/v1",
		"PARLEY_LLM_API_KEY=sk-fault-test",
		"PARLEY_LLM_MODEL=gpt-4o-mini",
		"PARLEY_LLM_TIMEOUT=60s",
		"PARLEY_LOG_FORMAT=json",
		"PARLEY_LOG_LEVEL=info",
		"PARLEY_WIDGET_RATE_SESSIONS=100000",
		"PARLEY_WIDGET_RATE_MESSAGES=100000",
	}
}

// baseEnv is the test's environment without the variables that would point a child process
// at the shared servers (DATABASE_URL, REDIS_URL, as .ci/run sets them) or change its
// configuration (PARLEY_*): every scenario sets its own.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "REDIS_URL" || strings.HasPrefix(k, "PARLEY_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func logHas(path, s string) bool {
	b, _ := os.ReadFile(path)
	return bytes.Contains(b, []byte(s))
}

// run runs a one-shot subcommand and returns its stdout.
func (d *deployment) run(args ...string) string {
	d.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = d.env
	cmd.Dir = d.web.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		d.t.Fatalf("parley %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func (d *deployment) waitReady(max time.Duration) time.Duration {
	d.t.Helper()
	t0 := time.Now()
	ok := waitFor(max, func() bool {
		r, err := http.Get(d.webURL + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	if !ok {
		d.t.Fatalf("the web process did not answer /healthz within %s:\n%s", max, tail(d.web.log, 30))
	}
	return time.Since(t0)
}

// createAssistant creates the assistant through the JSON API: connected to WhatsApp, with a
// free-text variable that only the language model can fill (so every customer message causes
// an extraction call), and the widget's allowed origin.
func (d *deployment) createAssistant(apiKey string) {
	d.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"name":          "Fault assistant",
		"system_prompt": "You are a helpful shop assistant.",
		"first_message": "Hello! How can I help?",
		"model":         "gpt-4o-mini",
		"variables": []map[string]any{
			{"name": "full_name", "description": "The customer's full name", "type": "text"},
		},
		"allowed_origins":          []string{widgetOrigin},
		"whatsapp_phone_number_id": phoneNumberID,
		"whatsapp_access_token":    accessToken,
	})
	req, _ := http.NewRequest(http.MethodPost, d.webURL+"/api/v1/assistants", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		d.t.Fatalf("create assistant: %d %s", res.StatusCode, raw)
	}
	var a struct {
		ID        int64  `json:"id"`
		PublicKey string `json:"public_key"`
	}
	if err := json.Unmarshal(raw, &a); err != nil || a.ID == 0 || a.PublicKey == "" {
		// The API may wrap the object.
		var w struct {
			Data struct {
				ID        int64  `json:"id"`
				PublicKey string `json:"public_key"`
			} `json:"data"`
		}
		if json.Unmarshal(raw, &w) != nil || w.Data.ID == 0 {
			d.t.Fatalf("create assistant: unexpected answer %s", raw)
		}
		a.ID, a.PublicKey = w.Data.ID, w.Data.PublicKey
	}
	d.assistantID, d.publicKey = a.ID, a.PublicKey
}

// checkAlive fails the test for every role process that is not running.
func (d *deployment) checkAlive(what string) {
	d.t.Helper()
	for _, p := range []*proc{d.web, d.worker, d.sched} {
		if p != nil && !p.running() {
			d.t.Errorf("%s: the %s process exited (%v) instead of reconnecting by itself", what, p.name, p.exitErr())
		}
	}
}

var errNotDone = errors.New("not done")
