package postcodes

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ctxmap/ctxmap"
)

// source is one CSV to read: a file on disk or an entry in a zip.
type source struct {
	name   string // path, or "archive.zip!inner/path.csv"
	size   int64  // uncompressed bytes, for the progress bar
	open   func() (io.ReadCloser, error)
	schema *schema // column layout, from the header (ONSPD) or fixed (Code-Point)
}

// sources expands paths (files, folders, .zip archives) into the CSVs to
// import, in a stable order. Files that are not data of the requested format
// (ONSPD's Documents/ lookups, Code-Point's column-header file) are reported
// in skipped rather than failing the import, because the release archives
// ship them next to the data. The returned closer closes opened archives.
func sources(format string, paths []string) (srcs []source, skipped map[string]string, closer func(), err error) {
	var zips []*zip.ReadCloser
	closer = func() {
		for _, z := range zips {
			z.Close()
		}
	}
	defer func() {
		if err != nil {
			closer()
		}
	}()
	skipped = map[string]string{}
	var all []source
	addFile := func(path string, size int64) {
		all = append(all, source{name: path, size: size, open: func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	addZip := func(path string) error {
		z, err := zip.OpenReader(path)
		if err != nil {
			return ctxmap.Errorf(ctxmap.KindInvalid, "import_source_unreadable", "%s is not a readable zip archive: %v", path, err)
		}
		zips = append(zips, z)
		for _, f := range z.File {
			if f.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(f.Name), ".csv") || strings.HasPrefix(f.Name, "__MACOSX/") {
				continue
			}
			all = append(all, source{name: path + "!" + f.Name, size: int64(f.UncompressedSize64), open: f.Open})
		}
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, closer, ctxmap.Errorf(ctxmap.KindInvalid, "import_source_missing", "cannot read %s: %v", p, err)
		}
		if !st.IsDir() {
			if strings.EqualFold(filepath.Ext(p), ".zip") {
				if err := addZip(p); err != nil {
					return nil, nil, closer, err
				}
			} else {
				addFile(p, st.Size())
			}
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(path))
			if !d.IsDir() && (ext == ".csv" || ext == ".zip") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, nil, closer, ctxmap.Errorf(ctxmap.KindInvalid, "import_source_unreadable", "cannot read folder %s: %v", p, err)
		}
		slices.Sort(found)
		for _, f := range found {
			if strings.EqualFold(filepath.Ext(f), ".zip") {
				if err := addZip(f); err != nil {
					return nil, nil, closer, err
				}
				continue
			}
			st, err := os.Stat(f)
			if err != nil {
				return nil, nil, closer, ctxmap.Errorf(ctxmap.KindInvalid, "import_source_missing", "cannot read %s: %v", f, err)
			}
			addFile(f, st.Size())
		}
	}

	// Keep the files whose first line looks like data of this format.
	for _, s := range all {
		first, err := firstLine(s)
		if err != nil {
			return nil, nil, closer, fmt.Errorf("read %s: %w", s.name, err)
		}
		sc, why := detect(format, first)
		if sc == nil {
			skipped[s.name] = why
			continue
		}
		s.schema = sc
		srcs = append(srcs, s)
	}
	// ONSPD and NSPL releases carry the same rows twice: one national file
	// and a multi_csv/ folder split by area. Prefer the national file.
	var single, multi bool
	for _, s := range srcs {
		if strings.Contains(strings.ToLower(s.name), "multi_csv") {
			multi = true
		} else {
			single = true
		}
	}
	if single && multi {
		srcs = slices.DeleteFunc(srcs, func(s source) bool {
			if strings.Contains(strings.ToLower(s.name), "multi_csv") {
				skipped[s.name] = "same rows as the release's single national file"
				return true
			}
			return false
		})
	}
	if len(srcs) == 0 {
		return nil, nil, closer, ctxmap.Errorf(ctxmap.KindInvalid, "import_no_data",
			"no %s data files among %s (checked %d CSV files)", format, strings.Join(paths, ", "), len(all)).
			WithDetail("skipped_files", skipped)
	}
	return srcs, skipped, closer, nil
}

// firstLine returns a source's first line without its line ending.
func firstLine(s source) ([]byte, error) {
	r, err := s.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := br.ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
