// Package jsonenc writes netlens's JSON outputs (`netlens flows --json`,
// `netlens snapshot`) as streams: record by record into one buffered
// writer, so memory stays flat with the number of entries and nothing
// holds the whole document.
//
// The hot records (model.Flow, model.Socket) have hand-written
// appenders; everything else goes through encoding/json one field at a
// time. The bytes are those of encoding/json: json.Marshal plus a newline
// when compact, json.MarshalIndent(v, "", "  ") plus a newline when
// indented (a test compares them on fixtures). An appender falls back to
// encoding/json for a type whose fields are not the ones it was written
// for (a field added to model without updating this package), and a test
// fails until it is updated.
//
// No terminal-width work is done here: the CLI paths that use it never
// import the UI.
package jsonenc
