package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/go-chi/chi/v5"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// coverTypes are the image types a cover may be, by sniffed content type.
var coverTypes = map[string]string{
	"image/jpeg": ".jpg",
	"image/png":  ".png",
	"image/gif":  ".gif",
	"image/webp": ".webp",
}

var coverContentType = map[string]string{".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}

// coverName matches the names saveCover makes; anything else is not ours.
var coverName = regexp.MustCompile(`^[0-9a-f]{32}\.(jpg|png|gif|webp)$`)

// upload is a checked cover waiting to be saved.
type upload struct {
	data []byte
	ext  string
}

func (a *App) coverDir() string { return coverDir(a.opts.SharedDir) }

func coverDir(sharedDir string) string { return filepath.Join(sharedDir, "covers") }

// PrepareSharedDir makes sure covers can be saved under sharedDir: it
// creates sharedDir/covers if needed (mode 0755), then writes, syncs and
// removes a probe file there, as saveCover would. It returns an error,
// for the caller to report at start, when sharedDir is a file, is on a
// read-only or special file system (/proc), or is not writable by this
// process's user; otherwise the first upload would be a 500.
func PrepareSharedDir(sharedDir string) error {
	dir := coverDir(sharedDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create the covers directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	_, err = f.Write([]byte("probe"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(f.Name()); err == nil && rerr != nil {
		err = fmt.Errorf("cannot remove files from %s: %w", dir, rerr)
	}
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	return nil
}

// saveCover writes u under a random name in SHARED_DIR/covers and returns
// the name. It writes a temporary file and renames it, so other instances
// (on the same EFS) never see half a file.
func (a *App) saveCover(u *upload) (string, error) {
	dir := a.coverDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("covers: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	name := hex.EncodeToString(b[:]) + u.ext
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return "", fmt.Errorf("covers: %w", err)
	}
	_, err = tmp.Write(u.data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("covers: save: %w", err)
	}
	return name, nil
}

// undoCover removes the cover saved for a change that the store refused
// with err, but only when the change definitely did not happen: after
// store.ErrOutcomeUnknown the row may have committed and point at the file,
// so it stays (an orphan file costs bytes; a missing one, a broken book).
func (a *App) undoCover(name string, err error) {
	if !errors.Is(err, store.ErrOutcomeUnknown) {
		a.removeCover(name)
	}
}

func (a *App) removeCover(name string) {
	if coverName.MatchString(name) {
		os.Remove(filepath.Join(a.coverDir(), name))
	}
}

// cover serves a saved cover. Names are random and never reused, so the
// file may be cached for good.
func (a *App) cover(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if !coverName.MatchString(name) {
		a.notFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(a.coverDir(), name))
	if err != nil {
		a.notFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		a.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", coverContentType[filepath.Ext(name)])
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// maxCoverText is MaxCoverBytes for people: "2 MB", "64 KB".
func (a *App) maxCoverText() string { return byteText(a.opts.MaxCoverBytes) }

// byteText is n bytes for people, in whole MiB or KiB written MB and KB as
// browsers and file managers do: "2 MB", "64 KB".
func byteText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", n>>10)
}
