// Package field is the configuration error that names the offending field
// by its dotted YAML path, the range-check table that produces them, and
// the "did you mean" suggestion for a misspelt name.
// Every config section validates with it (ingest, augment, train, sinks,
// the stages) and the loader (package configs) adds the file and line; it
// imports nothing of ours, so a domain package can report a field without
// depending on the engine or the loader.
package field

import (
	"errors"
	"fmt"
)

// Error is a configuration error that names the offending field by its
// dotted YAML path ("augment.crops[1].size"). The config loader fills File
// and Line from the YAML node when it can.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
}

// Errorf builds an Error for field (a dotted path relative to the config
// section that validates it; the loader prefixes the section name).
func Errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Prefix puts prefix (a sub-section's key) in front of the field of every
// *Error of err, an errors.Join tree included; another error is wrapped
// as "prefix: err". nil stays nil.
func Prefix(prefix string, err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Prefix(prefix, e))
		}
		return errors.Join(out...)
	}
	if fe, ok := err.(*Error); ok {
		out := *fe
		out.Field = prefix + "." + fe.Field
		return &out
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// Check is one range check of a config section: when OK is false, Field
// (relative to the section) gets Msg. It is an alias of an unnamed struct so
// that check tables can be written as {ok, "field", "msg"} rows.
type Check = struct {
	OK    bool
	Field string
	Msg   string
}

// CheckAll returns every failed check as an *Error, joined with errors.Join
// (nil when all pass): a config reports all its range errors at once.
func CheckAll(checks ...Check) error {
	var failed []error
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, Errorf(c.Field, "%s", c.Msg))
		}
	}
	return errors.Join(failed...)
}
