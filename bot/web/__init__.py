"""The read-only web view: the go-live's status, one run's full evidence, a sign-off request, the
rollout, the deployment record and the audit chain, as server-rendered pages behind signed, expiring
links posted in chat. `bot.web.links` is light (chat renderers import it); the pages (Jinja2) are
imported only by `golive serve` and `golive link`."""
