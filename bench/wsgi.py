"""What gunicorn serves during the page benchmark: the app as `app.py` builds it, plus a bare
/bench/hello route as the baseline. The route exists only here, never in the app itself."""

from farmstore import create_app

app = create_app()


@app.get("/bench/hello")
def bench_hello() -> str:
    """The cheapest response the app can give: routing and the app's request hooks, no template,
    no database."""
    return "hello"
