"""Question pages: asking from any producer page, the producer's inbox, answering, hiding, and
the operators' "rising this week" view."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.errors import DomainError, NotFound
from farmstore.extensions import db
from farmstore.forms import show_error
from farmstore.inquiries import bp, services
from farmstore.inquiries.forms import AnswerForm, HideForm, QuestionForm
from farmstore.producers.services import get_producer
from farmstore.timeutil import utcnow
from farmstore.web import found


def page_url(producer, about_kind: str, about_id: int | None) -> str:
    """The page a question was asked from (the producer's page when that page is gone)."""
    row = db.session.get(services.ABOUT_MODELS[about_kind], about_id) if about_kind in services.ABOUT_MODELS else None
    if row is None or row.producer_id != producer.id:
        return url_for("producers.show", slug=producer.slug)
    if about_kind == "product":
        return url_for("catalog.product", producer_slug=producer.slug, product_slug=row.slug)
    if about_kind == "subject":
        return url_for("stories.subject", producer_slug=producer.slug, subject_slug=row.slug)
    if about_kind == "sale":
        return url_for("sales.show", sale_id=row.id)
    return url_for("groupbuys.show", group_buy_id=row.id)


@bp.app_template_global()
def questions_box(producer, about_kind: str = "producer", about_id: int | None = None) -> dict:
    """What `inquiries/_questions.html` shows on a page: its questions and the form to ask one."""
    return {
        "questions": services.questions_on_page(
            producer, about_kind=about_kind, about_id=about_id, viewer=current_user
        ),
        "form": QuestionForm(about_kind=about_kind, about_id=about_id, formdata=None, prefix="question"),
        "can_answer": services.may_answer(current_user, producer),
    }


@bp.app_template_global()
def answer_record(producer) -> services.Responsiveness:
    """The producer's median answer time and badge, for `inquiries/_answer_record.html`."""
    return services.responsiveness(producer, now=utcnow())


@bp.post("/producers/<slug>/questions")
@login_required
def ask(slug: str):
    """A buyer asks from a page; they land back on it."""
    producer = found(get_producer, slug)
    form = QuestionForm(prefix="question")
    about_kind, about_id = form.about_kind.data or "producer", form.about_id.data
    if not form.validate_on_submit():
        flash(_("Write your question (at most 2000 characters) and choose what it is about."), "error")
        return redirect(page_url(producer, about_kind, about_id))
    try:
        services.ask_question(
            producer=producer, asker=current_user, body=form.body.data, topic=form.topic.data, kind=form.kind.data,
            private=form.private.data, about_kind=about_kind, about_id=about_id, now=utcnow(),
        )  # fmt: skip
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(
            _("Your question is sent. You will get an email when %(farm)s answers.", farm=producer.farm_name), "success"
        )
    return redirect(page_url(producer, about_kind, about_id))


@bp.get("/producers/<slug>/questions")
@login_required
def inbox(slug: str):
    """The producer's (or their evangelist's) questions, unanswered first."""
    producer = found(get_producer, slug)
    if not services.may_answer(current_user, producer):
        abort(403)
    questions = services.inbox(producer, by=current_user)
    return render_template(
        "inquiries/inbox.html",
        producer=producer,
        questions=questions,
        waiting=sum(1 for q in questions if not q.is_answered),
        answer_form=AnswerForm(formdata=None),
    )


@bp.get("/questions/<int:question_id>")
def show(question_id: int):
    """One question and its answer, for whoever may see it (404 for anyone else)."""
    question = found(services.get_question, question_id, current_user)
    return render_template(
        "inquiries/show.html",
        question=question,
        page_url=page_url(question.producer, question.about_kind, question.about_id),
        can_answer=services.may_answer(current_user, question.producer),
        answer_form=AnswerForm(),
        hide_form=HideForm(),
    )


@bp.post("/questions/<int:question_id>/answer")
@login_required
def answer(question_id: int):
    """The producer or their evangelist answers; anyone else gets 403."""
    question = found(services.load_question, question_id)
    if not services.may_answer(current_user, question.producer):
        abort(403)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            services.answer_question(question, by=current_user, body=form.body.data, now=utcnow())
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your answer is sent to the buyer."), "success")
            return redirect(url_for("inquiries.inbox", slug=question.producer.slug))
    return render_template(
        "inquiries/show.html",
        question=question,
        page_url=page_url(question.producer, question.about_kind, question.about_id),
        can_answer=True,
        answer_form=form,
        hide_form=HideForm(formdata=None),
    ), 400


@bp.post("/questions/<int:question_id>/hide")
@login_required
def hide(question_id: int):
    """An operator hides a question with a reason; anyone else gets 403."""
    if not current_user.is_operator:
        abort(403)
    question = found(services.get_question, question_id, current_user)
    form = HideForm()
    if not form.validate_on_submit():
        flash(_("Say why this is hidden; the owner will read it."), "error")
    else:
        services.hide_question(question, by=current_user, reason=form.reason.data, now=utcnow())
        flash(_("The question is hidden."), "info")
    return redirect(url_for("inquiries.show", question_id=question.id))


@bp.get("/my/questions")
@login_required
def mine():
    """The questions I asked, with their answers."""
    return render_template("inquiries/mine.html", questions=services.questions_asked_by(current_user))


@bp.get("/operator/questions/rising")
@login_required
def rising():
    """Operators: this week's questions and complaints by topic against last week's."""
    if not current_user.is_operator:
        abort(403)
    return render_template("inquiries/rising.html", trends=services.rising_topics(now=utcnow()))
