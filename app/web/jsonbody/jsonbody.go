// Package jsonbody is the one strict JSON body decoder of Parley's JSON surfaces (the JSON
// API and the public widget API): one object, nothing after it, fields of the right type,
// unknown fields refused, each failure an apierr.Error naming the field. It imports no
// surface, no store and no service.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/web/apierr"
)

var invalidField = apierr.InvalidField

// Object reads the body as one JSON object of raw fields. With typeRequired a Content-Type
// that does not name JSON is a 415; without it only a Content-Type that names something
// else is. Anything but a single object is a 400 invalid_json.
func Object(c echo.Context, typeRequired bool) (map[string]json.RawMessage, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if (typeRequired || ct != "") && !strings.Contains(strings.ToLower(ct), "json") {
		return nil, apierr.New(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send a JSON body with Content-Type: application/json.")
	}
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, err // the body limit's 413, or the client went away
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) || errors.Is(err, io.EOF) {
			return nil, apierr.New(http.StatusBadRequest, "invalid_json", "The body must be a JSON object.")
		}
		return nil, apierr.New(http.StatusBadRequest, "invalid_json", "The body is not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	if obj == nil {
		return nil, apierr.New(http.StatusBadRequest, "invalid_json", "The body must be a JSON object.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apierr.New(http.StatusBadRequest, "invalid_json", "The body must hold a single JSON object.")
	}
	return obj, nil
}

// Keys are the object's field names in sorted order, so that the first error is always the same.
func Keys(obj map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Only refuses any field not in allowed, naming the first (in sorted order).
func Only(obj map[string]json.RawMessage, allowed ...string) error {
	var unknown []string
	for k := range obj {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	if unknown[0] == "" {
		return invalidField(`""`, "unknown field (a field with an empty name)")
	}
	return invalidField(unknown[0], "unknown field")
}

// IsNull reports a JSON null.
func IsNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// String decodes a string field (null is not a string).
func String(field string, v json.RawMessage) (*string, error) {
	var s string
	if IsNull(v) || json.Unmarshal(v, &s) != nil {
		return nil, invalidField(field, "must be a string")
	}
	return &s, nil
}

// Strings decodes a list of strings.
func Strings(field string, v json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if IsNull(v) || json.Unmarshal(v, &items) != nil {
		return nil, invalidField(field, "must be a list of strings")
	}
	out := make([]string, len(items))
	for i, it := range items {
		s, err := String(field+"["+strconv.Itoa(i)+"]", it)
		if err != nil {
			return nil, err
		}
		out[i] = *s
	}
	return out, nil
}

// Objects decodes a list of objects, each strictly: the error names the element and its
// field, like variables[2].required.
func Objects[T any](field string, v json.RawMessage) ([]T, error) {
	var items []json.RawMessage
	if IsNull(v) || json.Unmarshal(v, &items) != nil {
		return nil, invalidField(field, "must be a list of objects")
	}
	out := make([]T, len(items))
	for i, it := range items {
		path := field + "[" + strconv.Itoa(i) + "]"
		if t := bytes.TrimSpace(it); len(t) == 0 || t[0] != '{' {
			return nil, invalidField(path, "must be an object")
		}
		dec := json.NewDecoder(bytes.NewReader(it))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return nil, invalidField(path+"."+te.Field, "must be %s", kindName(fieldType[T](te.Field, te.Type)))
			}
			if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				if n, err := strconv.Unquote(name); err == nil {
					name = n
				}
				return nil, invalidField(path+"."+name, "unknown field")
			}
			return nil, invalidField(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	return out, nil
}

// fieldType is the type of T's field with JSON name name (a type error inside a list names the
// list's field but the element's type), or fallback.
func fieldType[T any](name string, fallback reflect.Type) reflect.Type {
	t := reflect.TypeFor[T]()
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f.Type
		}
	}
	return fallback
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
		return "a number"
	}
	return "of type " + t.String()
}
