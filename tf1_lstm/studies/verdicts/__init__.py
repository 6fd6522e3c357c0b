"""The rules that turn numbers into verdicts, one place for every study and tool: what counts as
trained (rules), means and intervals (stats), the post's claims (claims), bit for bit and as a
whole (drift), and why two runs of a seed differ (causes)."""
