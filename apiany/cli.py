"""`python -m apiany ...`: the operator's command line (brief section 4)."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from pydantic import ValidationError

from apiany.core.errors import APIAnyError
from apiany.core.money import credits_to_units, format_credits
from apiany.core.settings import ROOT, SettingsError, get_settings


class CLIError(Exception):
    pass


# Model fields -> the flag a user typed, for validation messages.
CLI_FLAGS = {"rpm_limit": "rpm", "model_scope": "models", "log_content": "log-content"}


def _user_id(session, email: str) -> int:
    from apiany.services.accounts import get_user_by_email

    user = get_user_by_email(session, email)
    if user is None:
        raise CLIError(f"no user with email {email!r}")
    return user.id


def cmd_migrate(args) -> int:
    from apiany.services.migrations import upgrade_to_head

    upgrade_to_head()
    print("database is at the latest migration")
    return 0


def cmd_seed(args) -> int:
    from apiany.core.db import session_scope
    from apiany.services.seeds import load_seed_files

    paths = [Path(p) for p in args.files] or sorted((ROOT / "seeds").glob("*.yaml"))
    for path in paths:
        if not path.is_file():
            raise CLIError(f"seed file not found: {path}")
    with session_scope() as session:
        report = load_seed_files(session, paths)
    print(report)
    return 0


def cmd_users_create(args) -> int:
    from apiany.core.db import session_scope
    from apiany.services.accounts import create_user

    with session_scope() as session:
        user = create_user(session, email=args.email, password=args.password, admin=args.admin)
    print(f"created {user.role} {user.email} (id {user.id})")
    return 0


def cmd_users_ensure_admin(args) -> int:
    from apiany.core.db import session_scope
    from apiany.services.accounts import ensure_admin

    settings = get_settings()
    email = args.email or settings.admin_email or "admin@apiany.dev"
    with session_scope() as session:
        user, generated = ensure_admin(session, email=email, password=args.password or settings.admin_password)
    if generated:
        print(f"admin account {user.email} created with password: {generated}")
        print("(shown once; set APIANY_ADMIN_PASSWORD to choose it yourself)")
    else:
        print(f"admin account: {user.email}")
    return 0


def cmd_credits_grant(args) -> int:
    from apiany.core.db import session_scope
    from apiany.ledger import debit_credits, grant_credits
    from apiany.services import audit

    try:
        units = credits_to_units(args.credits)
    except ValueError as exc:
        raise CLIError(f"--credits: {exc}") from None
    if units == 0:
        raise CLIError("--credits: must not be zero")
    if not args.reason.strip():
        raise CLIError("--reason: must not be empty")
    with session_scope() as session:
        user_id = _user_id(session, args.email)
        key = f"cli-adjustment:{uuid.uuid4()}"
        common = dict(user_id=user_id, idempotency_key=key, actor="cli", memo=args.reason,
                      reference_type="admin_action", reference_id=key)
        if units > 0:
            tx = grant_credits(session, amount=units, kind="adjustment", **common)
        else:
            tx = debit_credits(session, amount=-units, kind="adjustment", **common)
        audit.record(session, actor="cli", action="credits.adjust", target_type="user",
                     target_id=str(user_id), details={"units": units, "reason": args.reason,
                                                      "transaction_id": tx.id})
    print(f"{'granted' if units > 0 else 'debited'} {format_credits(abs(units))} credits "
          f"to {args.email} (transaction {tx.id})")
    return 0


def cmd_balance(args) -> int:
    from apiany.core.db import session_scope
    from apiany.ledger import balance_of

    with session_scope() as session:
        view = balance_of(session, _user_id(session, args.email))
    print(format_credits(view.balance))
    return 0


def cmd_keys_create(args) -> int:
    from apiany.core.db import session_scope
    from apiany.services.keys import KeyCreate, create_key

    models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    try:
        budget = credits_to_units(args.budget) if args.budget is not None else None
    except ValueError as exc:
        raise CLIError(f"--budget: {exc}") from None
    with session_scope() as session:
        user_id = _user_id(session, args.email)
        data = KeyCreate(name=args.name, rpm_limit=args.rpm, budget=budget, model_scope=models,
                         log_content=args.log_content)
        secret, _key = create_key(session, user_id=user_id, data=data, actor="cli")
    print(secret)
    return 0


def cmd_ledger_verify(args) -> int:
    from apiany.core.db import session_scope
    from apiany.ledger import verify

    with session_scope() as session:
        problems = verify(session)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"ledger verify: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("ledger verify: all invariants hold")
    return 0


def cmd_sandbox(args) -> int:
    from apiany.sandbox import run

    run(host=args.host, port=args.port)
    return 0


def cmd_jobs_list(args) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from apiany.jobs.registry import print_jobs

    try:
        print_jobs()
    except (OperationalError, ProgrammingError) as exc:
        raise CLIError(f"cannot read job runs ({type(exc.orig).__name__}); "
                       "run `python -m apiany migrate` first") from None
    return 0


def cmd_jobs_run(args) -> int:
    from apiany.jobs.registry import run_job_now

    result = run_job_now(args.name, trigger="cli")
    print(result)
    return 0 if result.status == "success" else 1


def cmd_worker(args) -> int:
    from apiany.jobs.scheduler import run_worker

    run_worker()
    return 0


def cmd_serve_api(args) -> int:
    from apiany.api.server import serve_api

    serve_api(host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_finance_rollup(args) -> int:
    from apiany.services.finance import print_rollup

    print_rollup(args.month)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m apiany", description="APIAny operator commands")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply Alembic migrations").set_defaults(func=cmd_migrate)
    p = sub.add_parser("seed", help="load seeds/*.yaml (idempotent upsert)")
    p.add_argument("files", nargs="*", help="seed files (default: seeds/*.yaml)")
    p.set_defaults(func=cmd_seed)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users_cmd", required=True)
    p = users.add_parser("create", help="create a user")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--admin", action="store_true", help="give the admin role")
    p.set_defaults(func=cmd_users_create)
    p = users.add_parser("ensure-admin", help="make sure the admin account exists (APIANY_ADMIN_*)")
    p.add_argument("--email")
    p.add_argument("--password")
    p.set_defaults(func=cmd_users_ensure_admin)

    credits = sub.add_parser("credits", help="credit adjustments").add_subparsers(dest="credits_cmd", required=True)
    p = credits.add_parser("grant", help="admin adjustment (negative N debits)")
    p.add_argument("--email", required=True)
    p.add_argument("--credits", required=True, help="credits, e.g. 25 or 0.5 or -3")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_credits_grant)

    p = sub.add_parser("balance", help="print a user's balance in credits")
    p.add_argument("--email", required=True)
    p.set_defaults(func=cmd_balance)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_cmd", required=True)
    p = keys.add_parser("create", help="create a key and print it alone on stdout")
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--rpm", type=int, help="requests per minute limit")
    p.add_argument("--budget", help="budget in credits")
    p.add_argument("--models", help="comma-separated public model ids (default: all)")
    p.add_argument("--log-content", action="store_true", help="store request/response bodies")
    p.set_defaults(func=cmd_keys_create)

    ledger = sub.add_parser("ledger", help="ledger tools").add_subparsers(dest="ledger_cmd", required=True)
    ledger.add_parser("verify", help="exit 0 when all invariants hold").set_defaults(func=cmd_ledger_verify)

    p = sub.add_parser("sandbox", help="run the fake upstream alone")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser("serve-api", help="serve /v1, /api and webhooks without the console "
                       "(API-only workers; docs/deploy.md)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_serve_api)

    jobs = sub.add_parser("jobs", help="internal jobs").add_subparsers(dest="jobs_cmd", required=True)
    jobs.add_parser("list", help="list jobs and their last run").set_defaults(func=cmd_jobs_list)
    p = jobs.add_parser("run", help="run one job now")
    p.add_argument("name")
    p.set_defaults(func=cmd_jobs_run)

    sub.add_parser("worker", help="run the internal job scheduler (dedicated process)"
                   ).set_defaults(func=cmd_worker)

    finance = sub.add_parser("finance", help="finance summaries").add_subparsers(dest="finance_cmd", required=True)
    p = finance.add_parser("rollup", help="compute and print a month's summary")
    p.add_argument("--month", required=True, help="YYYY-MM (UTC)")
    p.set_defaults(func=cmd_finance_rollup)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        get_settings()
        return args.func(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (CLIError, APIAnyError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "input"
            print(f"error: --{CLI_FLAGS.get(field, field)}: {err['msg']}", file=sys.stderr)
        return 2
