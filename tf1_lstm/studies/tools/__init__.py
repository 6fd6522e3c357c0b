"""Tools beside the report: verify (a report's runs trained again here), compare (reports side
by side), diagnose (one run watched from inside), bench (timings)."""
