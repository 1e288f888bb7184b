"""Weekly theme reports: the period, the figures (content), the files (HTML, CSV, PDF), the
archive of generated reports, and the schedules that email them."""
