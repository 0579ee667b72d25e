"""The self-contained HTML report: data.py gathers the stored state, charts.py draws plain-SVG
pictures, html.py renders one offline file (inline CSS and SVG, no script, a strict CSP)."""
