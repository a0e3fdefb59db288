"""The Celery app for the worker and beat processes, on the Flask app built from the environment:

celery -A farmstore.worker worker --loglevel INFO
celery -A farmstore.worker beat --loglevel INFO --schedule instance/celerybeat-schedule
"""

from farmstore import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
