"""Users and roles of a production deployment (the FAB auth manager), created at init from .env.

Refuses to run while any variable of the environment still holds the example's ``change-me``
value. Creates the role ``HLS Operator`` (a Viewer who may also trigger, clear and answer Required
Actions, and edit the pipeline's DAGs only) and the users .env names: the admin
(``AIRFLOW_ADMIN_PASSWORD``), a migration operator (``HLS_OPERATOR_USER`` /
``HLS_OPERATOR_PASSWORD``) and a viewer (``HLS_VIEWER_USER`` / ``HLS_VIEWER_PASSWORD``). Run again,
it sets their passwords and roles to what .env says now.

    python deploy/airflow/init_auth.py --check   # only the refusal: before anything is created
    python deploy/airflow/init_auth.py           # after `airflow db migrate`, with the FAB auth manager
"""

from __future__ import annotations

import os
import sys

from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
from airflow.providers.fab.www.security import permissions

from hls_operators.settings import PIPELINE_DAG_IDS

OPERATOR_ROLE = "HLS Operator"
EXAMPLE_SECRET = "change-me"


def operator_permissions() -> list[tuple[str, str]]:
    """Viewer's permissions, runs and task instances to trigger and clear, Required Actions to
    answer, and edit rights on the pipeline's DAGs only (Airflow checks both for a trigger)."""
    acting = [
        (action, resource)
        for resource in (permissions.RESOURCE_DAG_RUN, permissions.RESOURCE_TASK_INSTANCE)
        for action in (permissions.ACTION_CAN_CREATE, permissions.ACTION_CAN_EDIT, permissions.ACTION_CAN_DELETE)
    ]
    own_dags = [
        (action, permissions.resource_name(dag_id, permissions.RESOURCE_DAG))
        for dag_id in PIPELINE_DAG_IDS
        for action in (permissions.ACTION_CAN_READ, permissions.ACTION_CAN_EDIT)
    ]
    return [
        *FabAirflowSecurityManagerOverride.VIEWER_PERMISSIONS,
        *acting,
        (permissions.ACTION_CAN_EDIT, permissions.RESOURCE_HITL_DETAIL),
        (permissions.ACTION_CAN_ACCESS_MENU, permissions.RESOURCE_HITL_DETAIL),
        *own_dags,
    ]


def wanted_users(env: dict[str, str]) -> list[tuple[str, str, str]]:
    """(username, password, role) of each user .env names; the admin is required."""
    users = [("admin", env["AIRFLOW_ADMIN_PASSWORD"], "Admin")]
    for prefix, role in (("HLS_OPERATOR", OPERATOR_ROLE), ("HLS_VIEWER", "Viewer")):
        if env.get(f"{prefix}_USER"):
            users.append((env[f"{prefix}_USER"], env[f"{prefix}_PASSWORD"], role))
    return users


def example_secrets(env: dict[str, str]) -> list[str]:
    """Names of the variables that still hold the example's placeholder."""
    return sorted(name for name, value in env.items() if EXAMPLE_SECRET in value.lower())


def main() -> int:
    env = dict(os.environ)
    left = example_secrets(env)
    if left:
        print(
            f"refusing to start: {', '.join(left)} still hold{'s' if len(left) == 1 else ''} "
            f"the example's '{EXAMPLE_SECRET}' value; set real secrets in .env",
            file=sys.stderr,
        )
        return 1
    if sys.argv[1:] == ["--check"]:
        return 0
    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        security.sync_roles()  # Airflow's own roles (Admin, Viewer, ...) before ours
        security.bulk_sync_roles([{"role": OPERATOR_ROLE, "perms": operator_permissions()}])
        for username, password, role_name in wanted_users(env):
            role = security.find_role(role_name)
            user = security.find_user(username=username)
            if user is None:
                security.add_user(username, username, role_name, f"{username}@users.invalid", role, password)
            else:
                user.roles = [role]
                security.update_user(user)
                security.reset_password(user.id, password)
            print(f"user {username}: role {role_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
