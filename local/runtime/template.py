"""The SAM template as the local runtime sees it: functions, their events and the state machines.

Everything here is derived from template.yaml; nothing about the application is declared twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.runtime.cfn_yaml import load_template

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "sms-optin-local"


class TemplateError(ValueError):
    """The template uses something the local runtime cannot run; the message says what."""


@dataclass(frozen=True)
class ApiRoute:
    function_id: str
    event_id: str
    method: str  # upper case, or ANY
    path: str  # API Gateway resource path, e.g. /contacts/{phoneNumber}
    # The name of the Lambda authorizer API Gateway runs before the function (the event's
    # Auth.Authorizer, else Globals.Api.Auth.DefaultAuthorizer); None: NONE, open route.
    authorizer: str | None = None
    # Auth.ApiKeyRequired: API Gateway refuses a request without an x-api-key header (403)
    # before the function runs.
    api_key_required: bool = False

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        pattern = ""
        for segment in self.path.strip("/").split("/"):
            variable = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
            if variable is None:
                pattern += "/" + re.escape(segment)
            else:
                # {name+} is API Gateway's greedy variable: it spans the rest of the path.
                pattern += f"/(?P<{variable[1]}>{'.+' if variable[2] else '[^/]+'})"
        found = re.fullmatch(pattern or "/", path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str
    code_uri: Path
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    sns_topics: tuple[str, ...]  # logical ids of the SNS topics it subscribes to

    @property
    def arn(self) -> str:
        return function_arn(self.logical_id)


@dataclass(frozen=True)
class Schedule:
    """A function's `Schedule` event (EventBridge): invoke it every `rate_seconds`."""

    function_id: str
    event_id: str
    rate_seconds: int
    expression: str  # as written, e.g. rate(1 minute)

    @property
    def rule_arn(self) -> str:
        return _arn("events", f"rule/{STACK_NAME}-{self.function_id}{self.event_id}")


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str, where: str) -> int:
    """The period of an EventBridge `rate(...)` expression (singular unit only for 1, as
    EventBridge requires); TemplateError for cron() and anything else."""
    found = _RATE.fullmatch(expression.strip())
    if found is None:
        raise TemplateError(
            f"{where}: the local runtime runs rate(N minutes|hours|days) schedules, "
            f"not {expression!r}"
        )
    value, unit = int(found[1]), found[2]
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise TemplateError(f"{where}: {expression!r} is not a valid rate expression")
    return value * _RATE_UNITS[unit.rstrip("s")]


@dataclass(frozen=True)
class StateMachine:
    logical_id: str
    name: str
    definition: str  # with DefinitionSubstitutions applied
    role_arn: str

    @property
    def arn(self) -> str:
        return state_machine_arn(self.name)


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer of the implicit API (Globals.Api.Auth.Authorizers)."""

    name: str
    function_id: str
    # Headers whose values identify the caller (Identity.Headers); API Gateway answers 401
    # without calling the function when one is missing.
    identity_headers: tuple[str, ...]
    reauthorize_every: int  # seconds API Gateway caches a result; the local runtime does not


@dataclass(frozen=True)
class GatewayResponse:
    """What API Gateway answers itself for a refused request (Globals.Api.GatewayResponses)."""

    status: int
    body: str  # the application/json template; $context.authorizer.<key> is filled in
    headers: dict[str, str] = field(default_factory=dict)


# API Gateway's own answers when the template does not set a gateway response.
DEFAULT_GATEWAY_RESPONSES = {
    "UNAUTHORIZED": GatewayResponse(401, '{"message":"Unauthorized"}'),
    "ACCESS_DENIED": GatewayResponse(
        403, '{"Message":"User is not authorized to access this resource with an explicit deny"}'
    ),
    "AUTHORIZER_FAILURE": GatewayResponse(500, '{"message": null}'),
}


@dataclass(frozen=True)
class PasswordPolicy:
    minimum_length: int = 8
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True


@dataclass(frozen=True)
class UserPoolClient:
    client_id: str
    explicit_auth_flows: frozenset[str]
    access_token_seconds: int


@dataclass(frozen=True)
class UserPool:
    logical_id: str
    pool_id: str
    password_policy: PasswordPolicy
    clients: dict[str, UserPoolClient] = field(default_factory=dict)
    groups: dict[str, int | None] = field(default_factory=dict)  # name -> precedence
    case_sensitive: bool = True

    @property
    def arn(self) -> str:
        return _arn("cognito-idp", f"userpool/{self.pool_id}")


@dataclass
class Application:
    root: Path
    functions: dict[str, Function] = field(default_factory=dict)
    routes: list[ApiRoute] = field(default_factory=list)
    state_machines: dict[str, StateMachine] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic ARN
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    gateway_responses: dict[str, GatewayResponse] = field(
        default_factory=lambda: dict(DEFAULT_GATEWAY_RESPONSES)
    )
    user_pools: dict[str, UserPool] = field(default_factory=dict)  # pool id -> pool
    schedules: list[Schedule] = field(default_factory=list)

    def route_for(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def subscribers(self, topic_id: str) -> list[Function]:
        return [f for f in self.functions.values() if topic_id in f.sns_topics]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"


def user_pool_id(logical_id: str) -> str:
    """A local pool id in Cognito's shape (<region>_<id>), stable across starts."""
    return f"{REGION}_{logical_id}"


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


# Resources whose Ref is a name given in a property (CloudFormation's primary identifier); when
# the property is absent the logical id stands in, as the physical name does for the others.
_NAME_PROPERTY = {
    "AWS::SMSVOICE::OptOutList": "OptOutListName",
    "AWS::SMSVOICE::ConfigurationSet": "ConfigurationSetName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
}

# !GetAtt X.Arn for the resource types whose ARN the template hands to functions or policies.
_ARN_FORMAT = {
    "AWS::SMSVOICE::PhoneNumber": ("sms-voice", "phone-number/{}"),
    "AWS::SMSVOICE::OptOutList": ("sms-voice", "opt-out-list/{}"),
    "AWS::SMSVOICE::ConfigurationSet": ("sms-voice", "configuration-set/{}"),
    "AWS::SQS::Queue": ("sqs", "{}"),
    "AWS::KMS::Key": ("kms", "key/{}"),
    "AWS::Logs::LogGroup": ("logs", "log-group:{}"),
    "AWS::DynamoDB::Table": ("dynamodb", "table/{}"),
}


class _Resolver:
    """Evaluates the intrinsic functions a SAM template uses, with local names for resources."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.parameters: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if name in parameters:
                raw: Any = parameters[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            if spec.get("Type") == "CommaDelimitedList" and isinstance(raw, str):
                raw = [item.strip() for item in raw.split(",")]
            self.parameters[name] = raw
        unknown = set(parameters) - set(self.parameters)
        if unknown:
            raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(unknown))}")
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.condition_specs: dict[str, Any] = template.get("Conditions") or {}
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    def condition(self, name: str) -> bool:
        """A named condition's value, as CloudFormation evaluates it from the parameters."""
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.condition_specs:
            raise TemplateError(f"condition {name} is not declared in Conditions")
        if name in self._evaluating:
            raise TemplateError(f"condition {name} refers to itself")
        self._evaluating.add(name)
        try:
            value = self._truth(self.condition_specs[name], name)
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = value
        return value

    def _truth(self, expression: Any, where: str) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, arg),) = expression.items()
            # local/runtime/cfn_yaml.py reads the short form !Condition as Fn::Condition.
            if key in ("Condition", "Fn::Condition"):
                return self.condition(str(arg))
            if key == "Fn::Equals":
                if not isinstance(arg, list) or len(arg) != 2:
                    raise TemplateError(f"{where}: Fn::Equals takes two values")
                left, right = (self.resolve(v) for v in arg)
                return _cfn_string(left) == _cfn_string(right)
            if key == "Fn::Not":
                if not isinstance(arg, list) or len(arg) != 1:
                    raise TemplateError(f"{where}: Fn::Not takes one condition")
                return not self._truth(arg[0], where)
            if key in ("Fn::And", "Fn::Or"):
                if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
                    raise TemplateError(f"{where}: {key} takes 2 to 10 conditions")
                values = [self._truth(a, where) for a in arg]
                return all(values) if key == "Fn::And" else any(values)
        raise TemplateError(f"{where}: {expression!r} is not a condition the local runtime knows")

    def exists(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false: CloudFormation does not create it."""
        resource = self.resources.get(logical_id)
        if resource is None:
            return False
        condition = resource.get("Condition")
        return condition is None or self.condition(str(condition))

    def _existing(self, name: str, what: str) -> dict[str, Any]:
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"{what}: no such resource")
        if not self.exists(name):
            raise TemplateError(f"{what}: {name} is not created (its Condition is false)")
        return dict(resource)

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            if name == "ServerlessRestApi":
                return "local"
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        kind = self._existing(name, f"!Ref {name}").get("Type", "")
        if kind == "AWS::Serverless::StateMachine":
            return state_machine_arn(self.state_machine_name(name))
        if kind == "AWS::SNS::Topic":
            return topic_arn(name)
        if kind == "AWS::Cognito::UserPool":
            return user_pool_id(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{self.physical_name(name)}"
        # Functions, tables, keys, lists…: the physical name (the logical id unless named).
        return self.physical_name(name)

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        prop = _NAME_PROPERTY.get(str(resource.get("Type", "")))
        given = (resource.get("Properties") or {}).get(prop) if prop else None
        return str(self.resolve(given)) if given is not None else logical_id

    def state_machine_name(self, logical_id: str) -> str:
        props = self.resources[logical_id].get("Properties") or {}
        return str(props.get("Name") or logical_id)

    def get_att(self, name: str, attribute: str) -> Any:
        kind = self._existing(name, f"!GetAtt {name}.{attribute}").get("Type", "")
        if attribute == "Arn":
            if kind == "AWS::Serverless::Function":
                return function_arn(name)
            if kind == "AWS::Serverless::StateMachine":
                return state_machine_arn(self.state_machine_name(name))
            if kind == "AWS::SNS::Topic":
                return topic_arn(name)
            if kind == "AWS::Cognito::UserPool":
                return _arn("cognito-idp", f"userpool/{user_pool_id(name)}")
            if kind in _ARN_FORMAT:
                service, resource = _ARN_FORMAT[kind]
                return _arn(service, resource.format(self.physical_name(name)))
            return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{name}"
        if attribute == "Name":
            if kind == "AWS::Serverless::StateMachine":
                return self.state_machine_name(name)
            return name
        if attribute in ("TopicName", "QueueName", "PhoneNumberId", "KeyId"):
            return self.physical_name(name)
        # e.g. OriginationNumber.PhoneNumber: AWS assigns it; locally it is data (--env-vars).
        raise TemplateError(
            f"!GetAtt {name}.{attribute} has no local value; set what uses it in --env-vars"
        )

    def resolve(self, value: Any) -> Any:
        """Evaluates intrinsics; AWS::NoValue (None) drops the key or list item it stands for."""
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::If":
                if not isinstance(arg, list) or len(arg) != 3:
                    raise TemplateError("Fn::If takes [condition name, value if true, if false]")
                return self.resolve(arg[1] if self.condition(str(arg[0])) else arg[2])
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local runtime")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not None}

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        resolved_vars = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in resolved_vars:
                return str(resolved_vars[name])
            if "." in name:
                resource, attribute = name.split(".", 1)
                return str(self.get_att(resource, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _cfn_string(value: Any) -> str:
    """Fn::Equals compares values as the strings CloudFormation sees (true == "true")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _stringify_env(variables: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in variables.items():
        if value is None:
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def substitute_definition(text: str, substitutions: dict[str, Any]) -> str:
    """Applies DefinitionSubstitutions as CloudFormation does: ${Name} replaced as text."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise TemplateError(f"definition uses ${{{name}}} but DefinitionSubstitutions lacks it")
        return str(substitutions[name])

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, text)


def load_application(
    template_path: Path,
    parameter_overrides: dict[str, str] | None = None,
    env_overrides: dict[str, dict[str, str]] | None = None,
) -> Application:
    """Reads the template and applies local overrides the way `sam local` does.

    env_overrides has the shape of `sam local --env-vars`: {"Parameters": {...} for every function,
    "<FunctionLogicalId>": {...}}; like SAM, it only sets variables the template declares.
    """
    template_path = template_path.resolve()
    root = template_path.parent
    template = load_template(template_path)
    resolver = _Resolver(template, parameter_overrides or {})
    env_overrides = env_overrides or {}
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    api_auth = ((template.get("Globals") or {}).get("Api") or {}).get("Auth") or {}
    app = Application(root=root)
    app.authorizers = _authorizers(api_auth)
    app.gateway_responses.update(_gateway_responses(template))
    default_authorizer = api_auth.get("DefaultAuthorizer")
    if default_authorizer is not None and default_authorizer not in app.authorizers:
        raise TemplateError(f"DefaultAuthorizer {default_authorizer} is not in Authorizers")

    for name in resolver.condition_specs:
        resolver.condition(name)  # a broken condition fails here, not on first use
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if not resolver.exists(logical_id):
            continue
        if kind == "AWS::SNS::Topic":
            app.topics[logical_id] = topic_arn(logical_id)
        elif kind == "AWS::Serverless::Function":
            app.functions[logical_id] = _function(logical_id, props, globals_fn, resolver, root)
            fn_env = dict(app.functions[logical_id].environment)
            for scope in ("Parameters", logical_id):
                for key, value in (env_overrides.get(scope) or {}).items():
                    if key in fn_env:
                        fn_env[key] = str(value)
            app.functions[logical_id] = _replace_env(app.functions[logical_id], fn_env)
            app.routes.extend(_routes(logical_id, props, default_authorizer, app.authorizers))
            app.schedules.extend(_schedules(logical_id, props, resolver))
        elif kind == "AWS::Serverless::StateMachine":
            app.state_machines[logical_id] = _state_machine(logical_id, props, resolver, root)
    app.user_pools = _user_pools(template, resolver)
    # Longest literal prefix first so /signups/export wins over /signups/{id}.
    app.routes.sort(key=lambda r: (r.path.count("{"), -len(r.path)))
    two_way = _two_way_topics(template)
    # The runtime publishes replies to the first topic: the one a phone number's two-way SMS
    # names, not e.g. the alarm topic that happens to come first in the file.
    app.topics = dict(sorted(app.topics.items(), key=lambda item: item[0] not in two_way))
    return app


def _two_way_topics(template: dict[str, Any]) -> set[str]:
    topics = set()
    for resource in template["Resources"].values():
        if resource.get("Type") in ("AWS::SMSVOICE::PhoneNumber", "AWS::SMSVOICE::Pool"):
            channel = ((resource.get("Properties") or {}).get("TwoWay") or {}).get("ChannelArn")
            if isinstance(channel, dict) and isinstance(channel.get("Ref"), str):
                topics.add(channel["Ref"])
    return topics


def _replace_env(fn: Function, env: dict[str, str]) -> Function:
    return Function(
        fn.logical_id, fn.handler, fn.code_uri, fn.runtime, fn.timeout, fn.memory_size, env,
        fn.sns_topics,
    )  # fmt: skip


def _function(
    logical_id: str,
    props: dict[str, Any],
    globals_fn: dict[str, Any],
    resolver: _Resolver,
    root: Path,
) -> Function:
    merged = {**globals_fn, **props}
    variables = {
        **((globals_fn.get("Environment") or {}).get("Variables") or {}),
        **((props.get("Environment") or {}).get("Variables") or {}),
    }
    code_uri = merged.get("CodeUri")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{logical_id}: CodeUri must be a local folder")
    if "Handler" not in merged:
        raise TemplateError(f"{logical_id}: no Handler")
    topics: list[str] = []
    for event in (props.get("Events") or {}).values():
        if event.get("Type") == "SNS":
            topic = (event.get("Properties") or {}).get("Topic")
            if isinstance(topic, dict) and "Ref" in topic:
                topics.append(topic["Ref"])
            else:
                raise TemplateError(f"{logical_id}: SNS events must !Ref a topic of the template")
    return Function(
        logical_id=logical_id,
        handler=str(merged["Handler"]),
        code_uri=(root / code_uri).resolve(),
        runtime=str(merged.get("Runtime", "python3.12")),
        timeout=int(resolver.resolve(merged.get("Timeout", 3))),
        memory_size=int(resolver.resolve(merged.get("MemorySize", 128))),
        environment=_stringify_env(resolver.resolve(variables)),
        sns_topics=tuple(topics),
    )


def _schedules(logical_id: str, props: dict[str, Any], resolver: _Resolver) -> list[Schedule]:
    found = []
    for event_id, event in (props.get("Events") or {}).items():
        if event.get("Type") != "Schedule":
            continue
        spec = event.get("Properties") or {}
        if (
            not _flag(resolver.resolve(spec.get("Enabled", True)))
            or str(resolver.resolve(spec.get("State", "ENABLED"))).upper() == "DISABLED"
        ):
            continue
        expression = str(resolver.resolve(spec.get("Schedule", "")))
        where = f"{logical_id}.Events.{event_id}"
        found.append(Schedule(logical_id, event_id, rate_seconds(expression, where), expression))
    return found


def _routes(
    logical_id: str,
    props: dict[str, Any],
    default_authorizer: str | None = None,
    authorizers: dict[str, Authorizer] | None = None,
) -> list[ApiRoute]:
    routes = []
    for event_id, event in (props.get("Events") or {}).items():
        if event.get("Type") in ("Api", "HttpApi"):
            p = event.get("Properties") or {}
            named = (p.get("Auth") or {}).get("Authorizer", default_authorizer)
            authorizer = None if named in (None, "NONE") else str(named)
            if authorizer is not None and authorizer not in (authorizers or {}):
                raise TemplateError(
                    f"{logical_id}.{event_id}: Auth.Authorizer {authorizer} is not declared in "
                    "Globals.Api.Auth.Authorizers"
                )
            routes.append(
                ApiRoute(
                    logical_id,
                    event_id,
                    str(p["Method"]).upper(),
                    str(p["Path"]),
                    authorizer,
                    (p.get("Auth") or {}).get("ApiKeyRequired") is True,
                )
            )
    return routes


def _authorizers(api_auth: dict[str, Any]) -> dict[str, Authorizer]:
    found: dict[str, Authorizer] = {}
    for name, spec in (api_auth.get("Authorizers") or {}).items():
        spec = spec or {}
        arn = spec.get("FunctionArn")
        if not (isinstance(arn, dict) and "Fn::GetAtt" in arn):
            raise TemplateError(f"authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn")
        target = arn["Fn::GetAtt"]
        function_id = (target if isinstance(target, list) else str(target).split("."))[0]
        if str(spec.get("FunctionPayloadType", "TOKEN")).upper() != "REQUEST":
            raise TemplateError(f"authorizer {name}: the local runtime runs REQUEST authorizers")
        identity = spec.get("Identity") or {}
        found[name] = Authorizer(
            name=name,
            function_id=str(function_id),
            identity_headers=tuple(str(h) for h in identity.get("Headers") or ()),
            reauthorize_every=int(identity.get("ReauthorizeEvery", 300)),
        )
    return found


def _gateway_responses(template: dict[str, Any]) -> dict[str, GatewayResponse]:
    found: dict[str, GatewayResponse] = {}
    specs = ((template.get("Globals") or {}).get("Api") or {}).get("GatewayResponses") or {}
    for kind, spec in specs.items():
        default = DEFAULT_GATEWAY_RESPONSES.get(kind, GatewayResponse(500, "{}"))
        headers = ((spec.get("ResponseParameters") or {}).get("Headers")) or {}
        found[kind] = GatewayResponse(
            status=int(spec.get("StatusCode", default.status)),
            body=str((spec.get("ResponseTemplates") or {}).get("application/json", default.body)),
            # Header values are mapping expressions: a quoted literal is the value itself.
            headers={str(k): str(v).strip("'") for k, v in headers.items()},
        )
    return found


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _user_pools(template: dict[str, Any], resolver: _Resolver) -> dict[str, UserPool]:
    """User pools with their app clients and groups, as the local cognito-idp serves them."""
    resources: dict[str, Any] = template["Resources"]
    pools: dict[str, UserPool] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Cognito::UserPool" or not resolver.exists(logical_id):
            continue
        props = resource.get("Properties") or {}
        policy = ((props.get("Policies") or {}).get("PasswordPolicy")) or {}
        usernames = props.get("UsernameConfiguration") or {}
        pool = UserPool(
            logical_id=logical_id,
            pool_id=user_pool_id(logical_id),
            password_policy=PasswordPolicy(
                minimum_length=int(policy.get("MinimumLength", 8)),
                require_lowercase=_flag(policy.get("RequireLowercase", True)),
                require_uppercase=_flag(policy.get("RequireUppercase", True)),
                require_numbers=_flag(policy.get("RequireNumbers", True)),
                require_symbols=_flag(policy.get("RequireSymbols", True)),
            ),
            case_sensitive=_flag(usernames.get("CaseSensitive", True)),
        )
        pools[pool.pool_id] = pool
    units_seconds = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind not in ("AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup"):
            continue
        if not resolver.exists(logical_id):
            continue
        props = resource.get("Properties") or {}
        pool_id = str(resolver.resolve(props.get("UserPoolId")))
        if pool_id not in pools:
            raise TemplateError(f"{logical_id}: UserPoolId must !Ref a user pool of the template")
        if kind == "AWS::Cognito::UserPoolGroup":
            name = str(resolver.resolve(props.get("GroupName") or logical_id))
            precedence = props.get("Precedence")
            pools[pool_id].groups[name] = None if precedence is None else int(precedence)
            continue
        units = (props.get("TokenValidityUnits") or {}).get("AccessToken", "hours")
        validity = int(props.get("AccessTokenValidity", 1 if units == "hours" else 60))
        pools[pool_id].clients[logical_id] = UserPoolClient(
            client_id=logical_id,
            explicit_auth_flows=frozenset(str(f) for f in props.get("ExplicitAuthFlows") or ()),
            access_token_seconds=validity * units_seconds[str(units)],
        )
    return pools


def _state_machine(
    logical_id: str, props: dict[str, Any], resolver: _Resolver, root: Path
) -> StateMachine:
    if "DefinitionUri" in props:
        text = (root / props["DefinitionUri"]).read_text(encoding="utf-8")
    elif "Definition" in props:
        import json

        text = json.dumps(props["Definition"])
    else:
        raise TemplateError(f"{logical_id}: needs DefinitionUri or Definition")
    substitutions = resolver.resolve(props.get("DefinitionSubstitutions") or {})
    return StateMachine(
        logical_id=logical_id,
        name=resolver.state_machine_name(logical_id),
        definition=substitute_definition(text, substitutions),
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}Role",
    )
