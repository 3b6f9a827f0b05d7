package dashboard

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// Settings → Tags (issue 14 item 4): the workspace's tags, managed by its admins (the route
// table's access). Each form answers htmx with the page's body, else 303 back to the page; a
// refused value is shown on the page (422).

func (s *Handler) tagsData(c echo.Context) (pages.TagsData, error) {
	d := pages.TagsData{CSRF: csrfToken(c), Colors: review.Colors}
	tags, err := s.Review.Tags(c.Request().Context(), current(c).Workspace.ID)
	if err != nil {
		return d, err
	}
	for _, t := range tags {
		d.Tags = append(d.Tags, pages.TagView{ID: t.ID, Name: t.Name, Color: t.Color})
	}
	return d, nil
}

func (s *Handler) tagsRender(c echo.Context, status int, d pages.TagsData) error {
	if htmx.IsFragment(c) {
		return htmx.Render(c, status, pages.TagsBody(d))
	}
	p, err := s.page(c, "Tags", "settings")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.TagsPage(p, d))
}

func (s *Handler) tagsPage(c echo.Context) error {
	d, err := s.tagsData(c)
	if err != nil {
		return err
	}
	return s.tagsRender(c, http.StatusOK, d)
}

// tagsAnswer answers a change: the page again, with the error of a refused value.
func (s *Handler) tagsAnswer(c echo.Context, err error, keep func(*pages.TagsData)) error {
	var fe *review.FieldError
	msg := ""
	switch {
	case errors.As(err, &fe):
		msg = "Tag " + fe.Error() + "."
	case errors.Is(err, review.ErrTagExists):
		msg = "A tag of this name exists already (names are compared without case)."
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "No such tag.")
	case err != nil:
		return err
	}
	if msg == "" && c.Request().Header.Get("HX-Request") != "true" {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.SettingsTags))
	}
	d, derr := s.tagsData(c)
	if derr != nil {
		return derr
	}
	status := http.StatusOK
	if msg != "" {
		d.Error, status = msg, http.StatusUnprocessableEntity
		if keep != nil {
			keep(&d)
		}
	}
	return s.tagsRender(c, status, d)
}

func (s *Handler) tagCreate(c echo.Context) error {
	name, color := c.FormValue("name"), c.FormValue("color")
	_, err := s.Review.CreateTag(c.Request().Context(), current(c).Workspace.ID, name, color)
	return s.tagsAnswer(c, err, func(d *pages.TagsData) { d.Name, d.Color = name, color })
}

func tagParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such tag.")
	}
	return id, nil
}

func (s *Handler) tagUpdate(c echo.Context) error {
	id, err := tagParam(c)
	if err != nil {
		return err
	}
	_, err = s.Review.UpdateTag(c.Request().Context(), current(c).Workspace.ID, id, c.FormValue("name"), c.FormValue("color"))
	return s.tagsAnswer(c, err, nil)
}

func (s *Handler) tagDelete(c echo.Context) error {
	id, err := tagParam(c)
	if err != nil {
		return err
	}
	return s.tagsAnswer(c, s.Review.DeleteTag(c.Request().Context(), current(c).Workspace.ID, id), nil)
}
