// Package overrides is the home of every per-tenant setting: the limits the
// distributor enforces on pushes, the query limits of the API and the
// retention of the store. Its one question is "what are the settings of
// tenant T?", answered by (*Overrides).For.
//
// The settings of a tenant are the defaults (flags and the limits section
// of -config.file) with the tenant's entry of the runtime configuration file
// applied over them field by field, as Loki does: an entry replaces the
// fields it names and keeps the defaults for the others. The file has
// Loki's shape,
//
//	overrides:
//	  tenant-a:
//	    retention_period: 72h
//	    retention_stream:
//	      - selector: '{namespace="dev"}'
//	        priority: 1
//	        period: 24h
//
// and is read again every reload period while the server runs; a file that
// does not parse or validate keeps the last good settings.
//
// Users of the settings declare the small interface they need where they
// use it (the distributor and the API each have one); *Overrides satisfies
// them all. A new per-tenant limit is one field of Limits, with its default
// and flag in RegisterFlags and its check in Validate, plus its use.
//
// The package imports labels and the logql syntax package (to parse the
// selectors of retention_stream), and nothing else of this repository:
// storage, distributor and API import it, never the other way round.
package overrides
