"""Least privilege, checked: what each role in the transformed template grants, against what
the code can call.

What the code can call is found by reading the code (ast), not typed by hand:

1. Handler -> use cases. The template names each function's handler module. Every top-level
   function of that module is an entry (API routes are reached through `app.resolve`).
   Expressions are typed with the package's own annotations: `wiring.dependencies()` returns
   `Dependencies`, whose properties return use-case classes and whose fields are ports; a
   local name takes the type of what it was assigned, a parameter the type of its annotation.
2. Use cases -> ports. A call `x.m(...)` where `x` is a package class follows into `m` (with
   `self` of that class, through package base classes); a call of a package function follows
   into it; a call `x.m(...)` where `x` is a port Protocol (optin/ports) is a port call.
3. Ports -> boto3 operations. A port's AWS adapter is the class in optin/adapters whose module
   builds a boto3 client (`session_client("<service>")`, `.client("<service>")`) and that
   defines every method of the Protocol. From each of its methods, calls on `self` and module
   functions are followed; an attribute call or a string constant naming an operation of the
   module's services (botocore's model, snake_case) is a use of that operation.
4. Operations -> IAM actions: `<signingName>:<Operation>` from botocore's model (sms-voice,
   states, dynamodb), except TransactWriteItems, which IAM authorises per item action
   (TRANSACT_ITEM_ACTIONS). Resources come from RESOURCE_RULES, resolved through the
   function's own environment (the table, state machine, number and lists it is configured
   with).

Why static rather than recorded from running the handlers: a recording sees only the paths
the test events take (a STOP racing a YES, an SMS refusal, a resend...). A call missed there
would read as a "surplus" permission and invite removing one production needs. The static
graph over-approximates (a branch that never runs still counts): it errs toward a permission
too many for a dead branch rather than one too few (within the limits below).

Limits, stated: calls through `getattr` with a computed name, `**kwargs` built elsewhere, or
a client passed around untyped are invisible to step 3 except as string constants; the tests
of the test pin the shapes the adapters use today.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"
PACKAGE = "optin"

# ---------------------------------------------------------------------------------------
# Tables (each entry says why; Service Authorization Reference = SAR below:
# https://docs.aws.amazon.com/service-authorization/latest/reference/
#   list_amazondynamodb.html, list_awsstepfunctions.html,
#   list_awsendusermessagingsmsandvoicev2.html)
# ---------------------------------------------------------------------------------------

# TransactWriteItems has no IAM action of its own: DynamoDB authorises each item as the
# single-item action it performs ("Using IAM with DynamoDB transactions", DynamoDB
# Developer Guide: Put/Update/Delete are governed by PutItem/UpdateItem/DeleteItem,
# ConditionCheck by dynamodb:ConditionCheckItem).
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}

# Never granted, never called: the consent ledger is append-only and requests never scan.
FORBIDDEN_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:Batch*")

# Library code that calls AWS itself, where the call walk cannot follow: a handler module that
# imports one of these names needs these (action, resource key) pairs. Powertools'
# idempotency utility on DynamoDBPersistenceLayer (utilities/idempotency/persistence/
# dynamodb.py) calls get_item, put_item (conditional), update_item, and delete_item for a
# request that failed, on the table wiring gives it (IDEMPOTENCY_TABLE).
LIBRARY_NEEDS = {
    "aws_lambda_powertools.utilities.idempotency.idempotent_function": (
        ("dynamodb:GetItem", "idempotency_table"),
        ("dynamodb:PutItem", "idempotency_table"),
        ("dynamodb:UpdateItem", "idempotency_table"),
        ("dynamodb:DeleteItem", "idempotency_table"),
    ),
}
# Forbidden actions a library need may have, on its own resource only (never ContactsTable).
FORBIDDEN_EXEMPT = frozenset({("dynamodb:DeleteItem", "idempotency_table")})

# Operations whose IAM action is not named after them (SAR, list_awslambda.html: the Invoke
# API is authorised by lambda:InvokeFunction).
OPERATION_ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction"}

# Ports the code calls that reach no AWS API (an HTTP POST to a partner's own server).
NON_AWS_PORTS = frozenset({f"{PACKAGE}.ports.webhooks.WebhookPoster"})

# Port calls that imply others the call walk cannot see: wiring wraps every contact store in
# usecases/webhooks.OutboxContactStore (wiring is not followed, and the field is typed as the
# port), whose `save` reads the partner's webhook endpoint and nudges the dispatcher.
IMPLIED_PORT_CALLS = {
    (f"{PACKAGE}.ports.contact_store.ContactStore", "save"): (
        (f"{PACKAGE}.ports.webhooks.WebhookStore", "get_endpoint"),
        (f"{PACKAGE}.ports.webhooks.DispatchNudge", "nudge"),
    ),
}

# Ports whose only adapters compute in process and call no AWS service (no IAM need).
IN_PROCESS_PORTS = {
    "optin.ports.captcha.Captcha": "ALTCHA: HMAC and SHA-256 in process (altcha_captcha.py)",
}

# Actions whose SAR entry lists no resource type, so IAM accepts only Resource "*".
WILDCARD_RESOURCE_ALLOWED = {
    "states:SendTaskSuccess": "SAR: no resource type (a task token names no ARN IAM can see)",
    "states:SendTaskFailure": "SAR: no resource type (a task token names no ARN IAM can see)",
    "sms-voice:CarrierLookup": "SAR: no resource type (a lookup touches no account resource)",
}

# Actions on executions: each execution is named after its sign-up, so a policy can only
# name them as "every execution of this one state machine", …:execution:<machine name>:*.
# That trailing wildcard is accepted; any other (a machine name wildcard, "*") is not.
EXECUTION_ACTIONS = frozenset(
    {"states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"}
)
_ONE_MACHINE_S_EXECUTIONS = re.compile(r"arn:[^*]+:states:[^*]+:execution:[^*:]+:\*")

# Operations Cognito authorises by the password or the access token in the request, never by
# IAM (Cognito developer guide, "Understanding API, OIDC, and managed login pages
# authentication": public and token-authorized operations): a role needs no grant for them,
# and botocore's model marks them smithy.api#noAuth (test_least_privilege pins that).
NOT_IAM_AUTHORIZED = frozenset(
    {"cognito-idp:InitiateAuth", "cognito-idp:GetUser", "cognito-idp:GlobalSignOut"}
)

# Managed policies SAM attaches for the platform, not for our code: CloudWatch Logs
# (AWSLambdaBasicExecutionRole) and X-Ray (Tracing: Active). Their "*" is AWS's, reviewed
# once here.
PLATFORM_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "logs for every function",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": "Tracing: Active (Globals)",
}

# A call that the code makes only when a function's environment switches it on: the IAM
# action is needed only when that variable resolves to that value.
ENV_GUARDED = {
    "sms-voice:CarrierLookup": ("CARRIER_LOOKUP", "true"),
}


@dataclass(frozen=True)
class OpUse:
    """One use of a boto3 operation in an adapter, with what decides its resources."""

    service: str
    operation: str  # botocore's name, e.g. "TransactWriteItems"
    indexes: frozenset[str] = frozenset()  # Query: IndexName values ("" = the base table)
    keywords: frozenset[str] = frozenset()  # request parameters named in the method


def _table(_: OpUse) -> set[str]:
    return {"table"}


def _query(use: OpUse) -> set[str]:
    return {"table" if name == "" else f"index:{name}" for name in use.indexes or {""}}


def _send_text(use: OpUse) -> set[str]:
    # SAR: SendTextMessage takes ConfigurationSet, PhoneNumber, Pool, ProtectConfiguration
    # and SenderId (all optional): each one the request names is authorised.
    keys = {"origination_identity"}
    if "ConfigurationSetName" in use.keywords:
        keys.add("configuration_set")
    return keys


# IAM action -> the resource keys its uses need (see resource_value for what each key is).
RESOURCE_RULES: dict[str, Callable[[OpUse], set[str]]] = {
    "dynamodb:GetItem": _table,
    "dynamodb:PutItem": _table,
    "dynamodb:UpdateItem": _table,
    "dynamodb:ConditionCheckItem": _table,
    "dynamodb:Query": _query,  # SAR: table, or index (…/index/<name>) when IndexName is set
    "states:StartExecution": lambda _: {"state_machine"},  # SAR: statemachine*
    "states:DescribeStateMachine": lambda _: {"state_machine"},  # SAR: statemachine*
    "states:DescribeExecution": lambda _: {"execution"},  # SAR: execution*
    "states:GetExecutionHistory": lambda _: {"execution"},  # SAR: execution*
    "states:StopExecution": lambda _: {"execution"},  # SAR: execution*
    "states:SendTaskSuccess": lambda _: {"*"},
    "states:SendTaskFailure": lambda _: {"*"},
    "sms-voice:SendTextMessage": _send_text,
    "sms-voice:PutOptedOutNumber": lambda _: {"opt_out_list"},  # SAR: OptOutList*
    "sms-voice:DeleteOptedOutNumber": lambda _: {"opt_out_list"},  # SAR: OptOutList*
    "sms-voice:CarrierLookup": lambda _: {"*"},
    "cognito-idp:AdminListGroupsForUser": lambda _: {"user_pool"},  # SAR: userpool*
    "lambda:InvokeFunction": lambda _: {"webhook_dispatcher"},  # SAR: function*
}

# Resource key -> the function environment variable that names it (the code reaches the
# resource through that variable, so the policy must name the same resource).
RESOURCE_ENV = {
    "table": ("CONTACTS_TABLE", "Arn"),
    "configuration_set": ("CONFIGURATION_SET_NAME", "Arn"),
    "opt_out_list": ("OPT_OUT_LIST_NAME", "Arn"),
    "state_machine": ("STATE_MACHINE_ARN", None),
    "origination_identity": ("ORIGINATION_IDENTITY", None),
    "user_pool": ("USER_POOL_ID", "Arn"),
    "idempotency_table": ("IDEMPOTENCY_TABLE", "Arn"),
    "webhook_dispatcher": ("WEBHOOK_DISPATCH_FUNCTION", "Arn"),
}


# ---------------------------------------------------------------------------------------
# Template side
# ---------------------------------------------------------------------------------------


class _PolicyLoader:
    """SAM asks IAM for managed policy names only when a template uses one by name."""

    def load(self) -> dict[str, str]:
        return {}


def _s3_code(props: dict[str, Any]) -> None:
    # What `sam package` does before the transform: local paths become S3 locations.
    for key in ("CodeUri", "DefinitionUri", "ContentUri"):
        value = props.get(key)
        if isinstance(value, str) and not value.startswith("s3://"):
            props[key] = f"s3://bucket/{value}"


def load_sam(path: Path = TEMPLATE) -> dict[str, Any]:
    from local.runtime.cfn_yaml import load_template

    return load_template(path)


def transform(sam: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template aws-sam-translator makes of `sam` (as on deploy).

    The translation is a pure function of `sam` and takes most of a second: it is made once
    per session for each distinct template (a test's changed copy is another key), and each
    caller gets its own copy to change."""
    key = json.dumps(sam, sort_keys=True, default=str)
    if key not in _TRANSFORMED:
        _TRANSFORMED[key] = _transform(sam)
    return copy.deepcopy(_TRANSFORMED[key])


_TRANSFORMED: dict[str, dict[str, Any]] = {}


def _transform(sam: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform as sam_transform

    document = copy.deepcopy(sam)
    _s3_code(document.get("Globals", {}).get("Function", {}))
    for resource in document.get("Resources", {}).values():
        _s3_code(resource.get("Properties", {}) or {})
    return sam_transform(document, {}, _PolicyLoader())


@dataclass
class Stack:
    """A transformed template under one set of parameter values."""

    template: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = {
            name: str(spec.get("Default", ""))
            for name, spec in self.template.get("Parameters", {}).items()
        }
        values.update(self.parameters)
        self.values = values
        self.conditions: dict[str, bool] = {}
        for name in self.template.get("Conditions", {}):
            self._condition(name)

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self._truth(self.template["Conditions"][name])
        return self.conditions[name]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Condition":
                return self._condition(arg)
            if key == "Fn::Equals":
                return self.text(arg[0]) == self.text(arg[1])
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in arg)
            if key == "Fn::Or":
                return any(self._truth(item) for item in arg)
        raise ValueError(f"cannot evaluate condition {node!r}")

    def resolve(self, node: Any) -> Any:
        """`node` with every Fn::If chosen and AWS::NoValue dropped."""
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return self.resolve(yes if self._condition(name) else no)
            # An Fn::If may choose AWS::NoValue: resolve first, then drop.
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if not _is_no_value(value)}
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if not _is_no_value(item)]
        return node

    def text(self, node: Any) -> str:
        """A canonical string for a value: parameters substituted, `${Res}` for a Ref to a
        resource, `${Res.Attr}` for GetAtt, Sub and Join flattened."""
        node = self.resolve(node)
        if isinstance(node, str):
            return node
        if isinstance(node, (int, float, bool)):
            return str(node).lower() if isinstance(node, bool) else str(node)
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.values.get(arg, "${" + arg + "}")
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return "${" + ".".join(parts) + "}"
            if key == "Fn::Sub":
                body, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for name, value in names.items():
                    body = body.replace("${" + name + "}", self.text(value))
                for name, value in self.values.items():
                    body = body.replace("${" + name + "}", value)
                return body
            if key == "Fn::Join":
                return arg[0].join(self.text(part) for part in arg[1])
        raise ValueError(f"cannot flatten {node!r}")

    def functions(self) -> dict[str, dict[str, Any]]:
        return {
            name: resource["Properties"]
            for name, resource in self.resources.items()
            if resource["Type"] == "AWS::Lambda::Function"
        }

    def environment(self, function: str) -> dict[str, str]:
        props = self.functions()[function]
        variables = self.resolve(props.get("Environment", {}).get("Variables", {}))
        return {name: self.text(value) for name, value in variables.items()}

    def role_of(self, resource: str) -> str:
        props = self.resources[resource]["Properties"]
        role = props.get("Role") or props.get("RoleArn")
        return role["Fn::GetAtt"][0]

    def statements(self, role: str) -> list[dict[str, Any]]:
        """Every statement of the role's inline policies and of AWS::IAM::Policy resources
        attached to it, Fn::If resolved."""
        found: list[dict[str, Any]] = []
        props = self.resources[role]["Properties"]
        documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        for resource in self.resources.values():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                roles = resource["Properties"].get("Roles", [])
                if {"Ref": role} in roles:
                    documents.append(resource["Properties"]["PolicyDocument"])
        for document in self.resolve(documents):
            statements = document.get("Statement", [])
            found.extend([statements] if isinstance(statements, dict) else statements)
        return found

    def managed_policies(self, role: str) -> list[str]:
        props = self.resources[role]["Properties"]
        return [self.text(arn) for arn in self.resolve(props.get("ManagedPolicyArns", []))]

    def grants(self, role: str) -> set[tuple[str, str]]:
        """(action, canonical resource) pairs the role's Allow statements grant."""
        pairs: set[tuple[str, str]] = set()
        for statement in self.statements(role):
            for action in _as_list(statement.get("Action")):
                for resource in _as_list(statement.get("Resource")):
                    pairs.add((action, self.text(resource)))
        return pairs


def _is_no_value(node: Any) -> bool:
    return node == {"Ref": "AWS::NoValue"}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def resource_value(key: str, environment: Mapping[str, str]) -> str:
    """The canonical resource string a resource key means for a function."""
    if key == "*":
        return "*"
    if key.startswith("index:"):
        return f"{resource_value('table', environment)}/index/{key[len('index:') :]}"
    if key == "execution":
        # Every execution of the function's state machine: …:execution:<machine name>:*
        machine = resource_value("state_machine", environment)
        if machine.startswith("${") and machine.endswith("}"):
            return (
                "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
                + machine[:-1]
                + ".Name}:*"
            )
        prefix, _, name = machine.rpartition(":stateMachine:")
        return f"{prefix}:execution:{name}:*"
    variable, attribute = RESOURCE_ENV[key]
    value = environment.get(variable)
    if value is None:
        return f"<{variable} is not in the function's environment>"
    if attribute and value.startswith("${") and value.endswith("}"):
        return value[:-1] + "." + attribute + "}"
    return value


# ---------------------------------------------------------------------------------------
# Code side
# ---------------------------------------------------------------------------------------


@dataclass
class Module:
    name: str
    tree: ast.Module
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    constants: dict[str, str] = field(default_factory=dict)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class Package:
    """The Lambda package's modules, parsed, with just enough typing to follow calls."""

    def __init__(self, root: Path = FUNCTIONS, package: str = PACKAGE) -> None:
        self.modules: dict[str, Module] = {}
        for path in sorted((root / package).rglob("*.py")):
            name = _module_name(path, root)
            self.modules[name] = self._read(name, ast.parse(path.read_text(), str(path)))

    @classmethod
    def from_sources(cls, sources: Mapping[str, str]) -> Package:
        """A package from {module name: source} (tests of the test)."""
        package = cls.__new__(cls)
        package.modules = {
            name: package._read(name, ast.parse(source)) for name, source in sources.items()
        }
        return package

    def _read(self, name: str, tree: ast.Module) -> Module:
        module = Module(name, tree)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                module.functions[node.name] = node  # type: ignore[assignment]
                module.names[node.name] = f"{name}.{node.name}"
            elif isinstance(node, ast.ClassDef):
                module.classes[node.name] = node
                module.names[node.name] = f"{name}.{node.name}"
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    module.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    module.names[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        module.constants[target.id] = node.value.value
        return module

    # -- lookups ----------------------------------------------------------------------

    def definition(self, qualified: str) -> tuple[Module, ast.AST] | None:
        module_name, _, attr = qualified.rpartition(".")
        module = self.modules.get(module_name)
        if module is None:
            return None
        if attr in module.functions:
            return module, module.functions[attr]
        if attr in module.classes:
            return module, module.classes[attr]
        if attr in module.names and module.names[attr] != qualified:
            return self.definition(module.names[attr])  # re-exported
        return None

    def is_class(self, qualified: str | None) -> bool:
        found = self.definition(qualified) if qualified else None
        return found is not None and isinstance(found[1], ast.ClassDef)

    def annotation(self, module: Module, node: ast.expr | None) -> str | None:
        """The package class an annotation names (`X`, `X | None`, `"X"`), or None."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.annotation(module, ast.parse(node.value, mode="eval").body)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.annotation(module, node.left) or self.annotation(module, node.right)
        if isinstance(node, ast.Name):
            qualified = module.names.get(node.id)
            return qualified if self.is_class(qualified) else None
        return None

    @cache  # noqa: B019 - a Package lives for one test session
    def bases(self, qualified: str) -> tuple[str, ...]:
        """The class and its package base classes, nearest first."""
        found = self.definition(qualified)
        if found is None:
            return ()
        module, node = found
        assert isinstance(node, ast.ClassDef)
        chain = [qualified]
        for base in node.bases:
            resolved = self.annotation(module, base)
            if resolved:
                chain.extend(name for name in self.bases(resolved) if name not in chain)
        return tuple(chain)

    def member(self, qualified: str, name: str) -> tuple[Module, ast.AST] | None:
        """Method, property or annotated field `name` of a class (through its bases)."""
        for cls in self.bases(qualified):
            module, node = self.definition(cls)  # type: ignore[misc]
            assert isinstance(node, ast.ClassDef)
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    item.name == name
                ):
                    return module, item
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and item.target.id == name
                ):
                    return module, item
        return None

    def is_protocol(self, qualified: str | None) -> bool:
        found = self.definition(qualified) if qualified else None
        if found is None or not isinstance(found[1], ast.ClassDef):
            return False
        return any(
            (isinstance(base, ast.Name) and base.id == "Protocol")
            or (isinstance(base, ast.Attribute) and base.attr == "Protocol")
            for base in found[1].bases
        )

    def ports(self) -> dict[str, set[str]]:
        """Protocols of optin.ports -> their method names."""
        found: dict[str, set[str]] = {}
        for name, module in self.modules.items():
            if not name.startswith(f"{PACKAGE}.ports"):
                continue
            for cls_name, node in module.classes.items():
                qualified = f"{name}.{cls_name}"
                if self.is_protocol(qualified):
                    found[qualified] = {
                        item.name
                        for item in node.body
                        if isinstance(item, ast.FunctionDef) and not item.name.startswith("_")
                    }
        return found

    # -- handler -> port calls ----------------------------------------------------------

    def port_calls(self, handler_module: str) -> set[tuple[str, str]]:
        """(port Protocol, method) pairs reachable from a handler module's functions."""
        walker = _CallWalker(self)
        for name in [handler_module, *self.included_routers(handler_module)]:
            module = self.modules[name]
            for function in module.functions.values():
                walker.visit_function(module, function, self_type=None)
        return walker.port_calls

    def included_routers(self, handler_module: str) -> list[str]:
        """Modules whose Powertools Router the handler's app includes
        (`app.include_router(<module>.router)`): their routes are entries too."""
        module = self.modules[handler_module]
        found = []
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "include_router"
                and node.args
                and isinstance(node.args[0], ast.Attribute)
                and isinstance(node.args[0].value, ast.Name)
            ):
                qualified = module.names.get(node.args[0].value.id)
                if qualified in self.modules:
                    found.append(qualified)
        return found


class _CallWalker:
    """Follows calls from functions through package code, collecting port calls."""

    # Building adapters is wiring's job; following into it would count construction.
    SKIP = (f"{PACKAGE}.adapters", f"{PACKAGE}.wiring")

    def __init__(self, package: Package) -> None:
        self.package = package
        self.port_calls: set[tuple[str, str]] = set()
        self._seen: set[tuple[int, str | None]] = set()

    def visit_function(
        self, module: Module, function: ast.FunctionDef, self_type: str | None
    ) -> None:
        key = (id(function), self_type)
        if key in self._seen:
            return
        self._seen.add(key)
        env: dict[str, str] = {}
        args = function.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            typed = self.package.annotation(module, arg.annotation)
            if typed:
                env[arg.arg] = typed
        if self_type and args.args and args.args[0].arg == "self":
            env["self"] = self_type
        # Flow-insensitive: a name keeps the type of any assignment to it in the function.
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    typed = self.type_of(module, node.value, env)
                    if typed:
                        env[target.id] = typed
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                self.visit_call(module, node, env)

    def type_of(self, module: Module, node: ast.expr, env: dict[str, str]) -> str | None:
        package = self.package
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return None
        if isinstance(node, ast.Call):
            callee = self.callee(module, node.func, env)
            if callee is None:
                return None
            found_module, definition = callee
            if isinstance(definition, ast.ClassDef):
                return f"{found_module.name}.{definition.name}"
            if isinstance(definition, ast.FunctionDef):
                return package.annotation(found_module, definition.returns)
            return None
        if isinstance(node, ast.Attribute):
            owner = self.type_of(module, node.value, env)
            if owner is None or not package.is_class(owner):
                return None
            member = package.member(owner, node.attr)
            if member is None:
                return None
            member_module, definition = member
            if isinstance(definition, ast.AnnAssign):
                return package.annotation(member_module, definition.annotation)
            if isinstance(definition, ast.FunctionDef) and _is_property(definition):
                return package.annotation(member_module, definition.returns)
        return None

    def callee(
        self, module: Module, func: ast.expr, env: dict[str, str]
    ) -> tuple[Module, ast.AST] | None:
        package = self.package
        if isinstance(func, ast.Name):
            qualified = module.names.get(func.id)
            return package.definition(qualified) if qualified else None
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id not in env:
                # module.function (e.g. `wiring.dependencies`)
                target = module.names.get(func.value.id)
                if target in package.modules:
                    return package.definition(f"{target}.{func.attr}")
            owner = self.type_of(module, func.value, env)
            if owner and package.is_class(owner) and not package.is_protocol(owner):
                return package.member(owner, func.attr)
        return None

    def visit_call(self, module: Module, node: ast.Call, env: dict[str, str]) -> None:
        package = self.package
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = self.type_of(module, func.value, env)
            if owner and package.is_protocol(owner):
                self.port_calls.add((owner, func.attr))
                return
            if owner and package.is_class(owner):
                member = package.member(owner, func.attr)
                if member and isinstance(member[1], ast.FunctionDef):
                    self._follow(member[0], member[1], owner)
                return
        callee = self.callee(module, func, env)
        if callee and isinstance(callee[1], ast.FunctionDef):
            self._follow(callee[0], callee[1], None)

    def _follow(self, module: Module, function: ast.FunctionDef, self_type: str | None) -> None:
        if module.name.startswith(self.SKIP):
            return
        self.visit_function(module, function, self_type)


def _is_property(function: ast.FunctionDef) -> bool:
    return any(
        isinstance(decorator, ast.Name) and decorator.id in ("property", "cached_property")
        for decorator in function.decorator_list
    )


# -- adapters -> boto3 operations --------------------------------------------------------


@cache
def _service_operations(service: str) -> dict[str, str]:
    """snake_case operation name -> botocore operation name."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@cache
def _signing_name(service: str) -> str:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    return str(model.signing_name)


@cache
def _known_services() -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_services())


def module_services(module: Module, package: Package | None = None) -> set[str]:
    """boto3 services a module builds clients for: string literal service names in it, and
    in the adapter modules it imports from (a shared client factory)."""
    found: set[str] = set()
    if package is not None:
        for node in module.tree.body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith(f"{PACKAGE}.adapters")
                and node.module in package.modules
                and node.module != module.name
            ):
                found |= module_services(package.modules[node.module], package)
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if isinstance(node.func, ast.Name):
            name = node.func.id
        first = node.args[0]
        if (
            name in ("session_client", "client", "resource")
            and isinstance(first, ast.Constant)
            and first.value in _known_services()
        ):
            found.add(first.value)
    return found


def aws_adapters(package: Package) -> dict[str, list[str]]:
    """Port Protocol -> the boto3 adapter classes that implement all its methods."""
    ports = package.ports()
    found: dict[str, list[str]] = {port: [] for port in ports}
    for name, module in package.modules.items():
        if not name.startswith(f"{PACKAGE}.adapters") or not module_services(module, package):
            continue
        for cls_name, node in module.classes.items():
            methods = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
            for port, wanted in ports.items():
                if wanted and wanted <= methods:
                    found[port].append(f"{name}.{cls_name}")
    return found


def operation_uses(package: Package, adapter: str, method: str) -> set[OpUse]:
    """boto3 operations reachable from one adapter method."""
    module, _ = package.definition(adapter)  # type: ignore[misc]
    services = module_services(module, package)
    operations: dict[str, tuple[str, str]] = {}
    for service in sorted(services):
        for snake, name in _service_operations(service).items():
            operations[snake] = (service, name)
    # Constants may name an operation either way: "send_task_success" for getattr, or
    # "SendTextMessage" turned into a method name at run time.
    by_constant = {
        **operations,
        **{name: pair for pair in operations.values() for name in [pair[1]]},
    }
    uses: set[OpUse] = set()
    seen: set[int] = set()
    pending: list[ast.FunctionDef] = []
    first = package.member(adapter, method)
    if first is not None and isinstance(first[1], ast.FunctionDef):
        pending.append(first[1])
    while pending:
        function = pending.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        keywords = _named_parameters(function)
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute):
                    if func.attr in operations:
                        service, name = operations[func.attr]
                        uses.add(_use(module, function, service, name, node, keywords))
                    elif isinstance(func.value, ast.Name) and func.value.id == "self":
                        member = package.member(adapter, func.attr)
                        if member and isinstance(member[1], ast.FunctionDef):
                            pending.append(member[1])
                elif isinstance(func, ast.Name) and func.id in module.functions:
                    pending.append(module.functions[func.id])
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in by_constant
            ):
                # getattr(client, "send_task_success") style dispatch.
                service, name = by_constant[node.value]
                uses.add(OpUse(service, name, keywords=keywords))
    return uses


def _named_parameters(function: ast.FunctionDef) -> frozenset[str]:
    """Request parameter names a function spells out (keywords or string constants)."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
    return frozenset(names)


def _use(
    module: Module,
    function: ast.FunctionDef,
    service: str,
    name: str,
    call: ast.Call,
    keywords: frozenset[str],
) -> OpUse:
    indexes: set[str] = set()
    if name in ("Query", "Scan"):
        values = [kw.value for kw in call.keywords if kw.arg == "IndexName"]
        if any(kw.arg is None for kw in call.keywords):
            # query(**request): the IndexName the function puts in a dict for it.
            for node in ast.walk(function):
                if isinstance(node, ast.Dict):
                    values += [
                        value
                        for key, value in zip(node.keys, node.values, strict=True)
                        if isinstance(key, ast.Constant) and key.value == "IndexName"
                    ]
        for value in values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                indexes.add(value.value)
            elif isinstance(value, ast.Name) and value.id in module.constants:
                indexes.add(module.constants[value.id])
            else:
                indexes.add("?")  # not a literal or module constant: make it one
        if not values:
            indexes.add("")  # the base table
    return OpUse(service, name, frozenset(indexes), keywords)


def transact_item_kinds(module: Module) -> set[str]:
    """Item kinds a module builds for TransactWriteItems ({"Put": {...}} dict literals)."""
    kinds: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in TRANSACT_ITEM_ACTIONS:
                    kinds.add(key.value)
    return kinds


@dataclass(frozen=True)
class Need:
    action: str
    resource_key: str
    because: str  # "port method -> adapter method" that calls it


def iam_needs(package: Package, adapter: str, method: str) -> set[Need]:
    """IAM (action, resource key) pairs one adapter method needs."""
    module, _ = package.definition(adapter)  # type: ignore[misc]
    needs: set[Need] = set()
    because = f"{adapter.rsplit('.', 1)[-1]}.{method}"
    for use in operation_uses(package, adapter, method):
        prefix = _signing_name(use.service)
        if use.operation == "TransactWriteItems":
            kinds = transact_item_kinds(module) or {"?"}
            actions = {TRANSACT_ITEM_ACTIONS.get(kind, f"dynamodb:?{kind}") for kind in kinds}
        else:
            action = f"{prefix}:{use.operation}"
            actions = {OPERATION_ACTIONS.get(action, action)}
        actions -= NOT_IAM_AUTHORIZED
        for action in actions:
            rule = RESOURCE_RULES.get(action)
            keys = rule(use) if rule else {f"<no RESOURCE_RULES entry for {action}>"}
            needs.update(Need(action, key, because) for key in keys)
    return needs


def function_needs(
    package: Package, handler_module: str
) -> tuple[set[Need], set[tuple[str, str]], list[str]]:
    """What a handler module's code needs: (needs, port calls, problems).

    A pure function of the parsed code, which a Package never changes after it is read: each
    stack checked (one per parameter set, and every test's changed copy) asks it again for the
    same handlers, and the AST walks behind it are most of this folder's time. So it is worked
    out once per package and handler; each caller gets its own copies to change."""
    needs, calls, problems = _function_needs(package, handler_module)
    return set(needs), set(calls), list(problems)


@cache
def _function_needs(
    package: Package, handler_module: str
) -> tuple[frozenset[Need], frozenset[tuple[str, str]], tuple[str, ...]]:
    needs, calls, problems = _work_out_function_needs(package, handler_module)
    return frozenset(needs), frozenset(calls), tuple(problems)


def _work_out_function_needs(
    package: Package, handler_module: str
) -> tuple[set[Need], set[tuple[str, str]], list[str]]:
    adapters = aws_adapters(package)
    calls = package.port_calls(handler_module)
    for call in list(calls):
        calls.update(IMPLIED_PORT_CALLS.get(call, ()))
    needs: set[Need] = set()
    problems: list[str] = []
    for port, method in sorted(calls):
        if port in NON_AWS_PORTS:
            continue
        implementations = adapters.get(port, [])
        if not implementations and port in IN_PROCESS_PORTS:
            continue
        if not implementations:
            problems.append(f"no boto3 adapter in {PACKAGE}.adapters implements {port}")
            continue
        for adapter in implementations:
            needs.update(iam_needs(package, adapter, method))
    for name in package.modules[handler_module].names.values():
        for action, key in LIBRARY_NEEDS.get(name, ()):
            needs.add(Need(action, key, name))
    return needs, calls, problems


# ---------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------


def _matches(action: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def compare(
    name: str,
    granted: set[tuple[str, str]],
    needed: Iterable[tuple[str, str]],
    managed: Iterable[str] = (),
    exempt: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """Problems with one role: missing, surplus, wildcard and forbidden grants. `exempt`:
    (action, resource) pairs a library needs that FORBIDDEN_ACTIONS would otherwise refuse."""
    needed = set(needed)
    exempt = set(exempt)
    problems: list[str] = []
    for action, resource in sorted(needed - granted):
        problems.append(f"{name}: missing {action} on {resource}")
    for action, resource in sorted(granted - needed):
        problems.append(f"{name}: surplus {action} on {resource}")
    for action, resource in sorted(granted):
        if "*" in action or "?" in action:
            problems.append(f"{name}: wildcard action {action}")
        if "*" in resource and not (
            (resource == "*" and action in WILDCARD_RESOURCE_ALLOWED)
            or (action in EXECUTION_ACTIONS and _ONE_MACHINE_S_EXECUTIONS.fullmatch(resource))
        ):
            problems.append(f"{name}: wildcard resource {resource} for {action}")
        for forbidden in FORBIDDEN_ACTIONS:
            if (action, resource) in exempt:
                continue
            if _matches(action, forbidden) or _matches(forbidden, action):
                problems.append(f"{name}: forbidden {action}")
    for arn in managed:
        if arn not in PLATFORM_MANAGED_POLICIES:
            problems.append(f"{name}: managed policy {arn} is not in PLATFORM_MANAGED_POLICIES")
    for action, resource in sorted(needed):
        if (action, resource) in exempt:
            continue
        if any(_matches(action, forbidden) for forbidden in FORBIDDEN_ACTIONS):
            problems.append(f"{name}: the code calls forbidden {action}")
    return problems


def statement_problems(name: str, statements: list[dict[str, Any]]) -> list[str]:
    """Shapes the comparison does not model: Deny, NotAction, NotResource."""
    problems = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            problems.append(f"{name}: a statement is not a plain Allow: {json.dumps(statement)}")
        for key in ("NotAction", "NotResource", "NotPrincipal"):
            if key in statement:
                problems.append(f"{name}: {key} is not allowed here")
    return problems


def expected_grants(needs: Iterable[Need], environment: Mapping[str, str]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for need in needs:
        guard = ENV_GUARDED.get(need.action)
        if guard and environment.get(guard[0]) != guard[1]:
            continue
        pairs.add((need.action, resource_value(need.resource_key, environment)))
    return pairs


def handler_module(handler: str) -> str:
    return handler.rsplit(".", 1)[0]


def iter_functions(stack: Stack) -> Iterator[tuple[str, str, str]]:
    """(function logical id, handler module, role logical id) for every Lambda function."""
    for name, props in sorted(stack.functions().items()):
        yield name, handler_module(props["Handler"]), stack.role_of(name)


# Lambda delivers a failed asynchronous event to the function's EventInvokeConfig
# destination with the function's role; the action depends on the destination's type.
DESTINATION_ACTIONS = {
    "AWS::SQS::Queue": "sqs:SendMessage",
    "AWS::SNS::Topic": "sns:Publish",
    "AWS::Lambda::Function": "lambda:InvokeFunction",
    "AWS::Events::EventBus": "events:PutEvents",
}


def platform_grants(stack: Stack, function: str) -> set[tuple[str, str]]:
    """Grants the platform needs for a function, derived from its EventInvokeConfig."""
    pairs: set[tuple[str, str]] = set()
    for resource in stack.resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        if props.get("FunctionName") != {"Ref": function}:
            continue
        for destination in stack.resolve(props.get("DestinationConfig", {})).values():
            target = destination.get("Destination", {})
            logical = target.get("Fn::GetAtt", [None])[0] if isinstance(target, dict) else None
            kind = stack.resources.get(logical, {}).get("Type") if logical else None
            action = DESTINATION_ACTIONS.get(kind or "", f"<destination type {kind}>")
            pairs.add((action, stack.text(target)))
    return pairs


def check_stack(stack: Stack, package: Package) -> tuple[list[str], dict[str, Any]]:
    """Every function role compared with its code; also the table for the report."""
    problems: list[str] = []
    table: dict[str, Any] = {}
    for function, module, role in iter_functions(stack):
        needs, _, code_problems = function_needs(package, module)
        problems.extend(f"{function}: {problem}" for problem in code_problems)
        environment = stack.environment(function)
        granted = stack.grants(role)
        statements = stack.statements(role)
        problems.extend(statement_problems(function, statements))
        exempt = expected_grants(
            {need for need in needs if (need.action, need.resource_key) in FORBIDDEN_EXEMPT},
            environment,
        )
        problems.extend(
            compare(
                function,
                granted,
                expected_grants(needs, environment) | platform_grants(stack, function),
                stack.managed_policies(role),
                exempt,
            )
        )
        table[function] = sorted(granted)
    return problems, table


def state_machine_problems(stack: Stack, asl_path: Path, logical_id: str) -> list[str]:
    """The state machine's role may invoke exactly the functions its definition names."""
    props = stack.resources[logical_id]["Properties"]
    substitutions = props.get("DefinitionSubstitutions", {})
    definition = asl_path.read_text()
    needed: set[tuple[str, str]] = set()
    for name, value in substitutions.items():
        if "${" + name + "}" in definition and name.endswith("FunctionArn"):
            needed.add(("lambda:InvokeFunction", stack.text(value)))
    role = stack.role_of(logical_id)
    return statement_problems(logical_id, stack.statements(role)) + compare(
        logical_id, stack.grants(role), needed, stack.managed_policies(role)
    )
