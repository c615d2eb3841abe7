package fluentbitconf

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
)

// loamSource is the file of the plugin that reads its config keys.
var loamSource = filepath.Join("..", "plugin", "internal", "config", "parse.go")

// loamKeys returns the keys the loam output reads, lower case, from the
// plugin's source: every string constant or literal given as the first
// argument of a method of its parser (p.get(keyURL), p.boolean(…), …).
// Reading the code rather than a copy of its key list means a key the
// plugin drops, or renames, fails the configs that still set it.
func loamKeys() (map[string]bool, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, loamSource, nil, 0)
	if err != nil {
		return nil, err
	}
	consts := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil {
						consts[name.Name] = v
					}
				}
			}
		}
	}
	// The receiver name of the parser's methods.
	recv := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "parser" {
				for _, n := range fn.Recv.List[0].Names {
					recv[n.Name] = true
				}
			}
		}
	}
	keys := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || !recv[x.Name] {
			return true
		}
		switch a := call.Args[0].(type) {
		case *ast.Ident:
			if v, ok := consts[a.Name]; ok {
				keys[strings.ToLower(v)] = true
			}
		case *ast.BasicLit:
			if v, err := strconv.Unquote(a.Value); err == nil && a.Kind == token.STRING {
				keys[strings.ToLower(v)] = true
			}
		}
		return true
	})
	if len(keys) == 0 || len(recv) == 0 {
		return nil, fmt.Errorf("%s: no parser methods reading keys found: the way the plugin reads its keys changed, and this test with it", loamSource)
	}
	return keys, nil
}
