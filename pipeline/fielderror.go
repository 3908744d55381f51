package pipeline

import (
	"errors"
	"fmt"
)

// FieldError is a configuration error that names the offending field by its
// dotted YAML path ("augment.crops[1].size"). The config loader fills File and
// Line from the YAML node when it can.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
}

// FieldErrorf builds a FieldError for field (a dotted path relative to the
// config section that validates it; the loader prefixes the section name).
func FieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// FieldCheck is one range check of a config section: when OK is false,
// Field (relative to the section) gets Msg. It is an alias of an unnamed
// struct so that check tables can be written as {ok, "field", "msg"} rows.
type FieldCheck = struct {
	OK    bool
	Field string
	Msg   string
}

// CheckFields returns every failed check as a *FieldError, joined with
// errors.Join (nil when all pass): a config reports all its range errors
// at once.
func CheckFields(checks ...FieldCheck) error {
	var failed []error
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, FieldErrorf(c.Field, "%s", c.Msg))
		}
	}
	return errors.Join(failed...)
}
