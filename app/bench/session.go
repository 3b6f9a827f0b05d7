package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web"
)

// ---- HTTP session ----

func (r *Runner) startHTTP(ctx context.Context) error {
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	password := hex.EncodeToString(buf)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	email := fmt.Sprintf("bench-%d-%s@parley.invalid", r.ws.ID, password[:8])
	u := &store.User{WorkspaceID: r.ws.ID, Email: email, Name: "Benchmark", PasswordHash: hash, Role: model.UserRoleMember, CreatedAt: time.Now().UTC()}
	if err := r.s.CreateUser(ctx, u, model.MemberAdmin); err != nil {
		return fmt.Errorf("create the benchmark user: %w", err)
	}
	r.userID = u.ID

	w := web.New(r.App)
	r.timer = &serverTimer{h: w.Handler()}
	r.srv = httptest.NewServer(r.timer)
	jar, _ := cookiejar.New(nil)
	r.client = &http.Client{Jar: jar, Timeout: 5 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res, err := r.client.Get(r.srv.URL + "/login")
	if err != nil {
		return err
	}
	d, err := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	tok, _ := d.Find(`input[name="_csrf"]`).First().Attr("value")
	if res.StatusCode != http.StatusOK || tok == "" {
		return fmt.Errorf("GET /login: status %d, no CSRF token", res.StatusCode)
	}
	res, err = r.client.PostForm(r.srv.URL+"/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}})
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST /login: status %d", res.StatusCode)
	}
	return nil
}

func (r *Runner) stopHTTP() {
	if r.srv != nil {
		r.srv.Close()
	}
	if r.userID > 0 {
		_ = r.s.DeleteUser(context.Background(), r.userID)
	}
}
