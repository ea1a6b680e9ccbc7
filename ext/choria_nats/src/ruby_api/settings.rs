//! The settings table for Ruby: `ChoriaNats::SETTINGS` (a frozen array of
//! frozen hashes, one a setting), `ChoriaNats.setting_value` (the check of a
//! value from an MCollective configuration file) and the reading of
//! `Connection.new`'s option hash.

use super::errors::exception;
use crate::errors::Failure;
use crate::settings::table::{self, DefaultValue, Role, Setting, Spelling, Type, Value};
use crate::settings::Settings;
use magnus::{
    function, prelude::*, Error, IntoValue, RArray, RHash, RModule, RString, Ruby, TryConvert,
};

/// The settings from the option hash `ChoriaNats::Connection.native_options`
/// builds (symbol keys, seconds as Floats).
pub fn from_hash(ruby: &Ruby, hash: RHash) -> Result<Settings, Failure> {
    Settings::from_values(|setting| read(ruby, hash, setting))
}

fn get<T: TryConvert>(ruby: &Ruby, hash: RHash, key: &str) -> Result<Option<T>, Failure> {
    hash.lookup::<_, Option<T>>(ruby.to_symbol(key))
        .map_err(|e| Failure::config(format!("The option {key} has the wrong type: {e}")))
}

/// The option of this setting in the hash, as a value of its type.
fn read(ruby: &Ruby, hash: RHash, setting: &Setting) -> Result<Option<Value>, Failure> {
    let key = setting.name;
    Ok(match setting.kind {
        Type::Seconds { .. } => get(ruby, hash, key)?.map(Value::Seconds),
        Type::Count { .. } | Type::Port => get(ruby, hash, key)?.map(Value::Count),
        Type::Flag => get(ruby, hash, key)?.map(Value::Flag),
        Type::Text | Type::Path | Type::Choice { .. } => get(ruby, hash, key)?.map(Value::Text),
        Type::Names | Type::Networks => get(ruby, hash, key)?.map(Value::Names),
        Type::Servers => get(ruby, hash, key)?.map(Value::Servers),
    })
}

/// `ChoriaNats.setting_value(name, text)`: the value of the text an
/// MCollective configuration file gives for the setting, checked; raises
/// `ChoriaNats::ConfigurationError` saying what it must be.
fn setting_value(ruby: &Ruby, name: String, text: String) -> Result<magnus::Value, Error> {
    let setting = table::find(&name).ok_or_else(|| {
        Error::new(
            ruby.exception_arg_error(),
            format!("no setting is named {name:?}"),
        )
    })?;
    let value = setting.parse(&text).map_err(exception(ruby))?;
    Ok(to_ruby(ruby, &value))
}

fn to_ruby(ruby: &Ruby, value: &Value) -> magnus::Value {
    match value {
        Value::Seconds(seconds) => seconds.into_value_with(ruby),
        Value::Count(count) => count.into_value_with(ruby),
        Value::Flag(flag) => flag.into_value_with(ruby),
        Value::Text(text) => text.as_str().into_value_with(ruby),
        Value::Names(names) => names.clone().into_value_with(ruby),
        Value::Servers(servers) => servers.clone().into_value_with(ruby),
    }
}

fn frozen(ruby: &Ruby, text: &str) -> RString {
    let string = ruby.str_new(text);
    string.freeze();
    string
}

fn type_name(kind: Type) -> &'static str {
    match kind {
        Type::Seconds { .. } => "seconds",
        Type::Count { .. } => "count",
        Type::Port => "port",
        Type::Flag => "flag",
        Type::Text => "text",
        Type::Path => "path",
        Type::Names => "names",
        Type::Servers => "servers",
        Type::Choice { .. } => "choice",
        Type::Networks => "networks",
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Required => "required",
        Role::Optional => "option",
        Role::Plugin => "plugin",
        Role::MCollective => "mcollective",
    }
}

/// One row as a frozen hash with symbol keys: `name`, `type`, `unit`,
/// `default` (a value, or nil), `default_text` (how a default worked out
/// elsewhere is found, or nil), `limits` (what a value must be, or nil when the gem does not check it),
/// `key`, `env`, `also_keys` (go-choria's other keys, which `key` wins
/// over), `override_env` (go-choria's environment variable, which wins over
/// the file, or nil), `role` (`:required`, `:option`, `:plugin` or
/// `:mcollective`) and `description`.
fn row(ruby: &Ruby, setting: &Setting) -> Result<RHash, Error> {
    let text = |t: Option<&str>| t.map(|t| frozen(ruby, t));
    let hash = ruby.hash_new();
    hash.aset(ruby.to_symbol("name"), frozen(ruby, setting.name))?;
    hash.aset(
        ruby.to_symbol("type"),
        frozen(ruby, type_name(setting.kind)),
    )?;
    hash.aset(ruby.to_symbol("unit"), text(setting.unit()))?;
    hash.aset(
        ruby.to_symbol("default"),
        setting.default_value().map(|v| to_ruby(ruby, &v)),
    )?;
    let described = match setting.default {
        DefaultValue::Described(how) => Some(how),
        _ => None,
    };
    hash.aset(ruby.to_symbol("default_text"), text(described))?;
    hash.aset(ruby.to_symbol("limits"), text(setting.limits().as_deref()))?;
    hash.aset(ruby.to_symbol("key"), text(setting.key))?;
    hash.aset(ruby.to_symbol("env"), text(setting.env))?;
    let also_keys = ruby.ary_new();
    let mut override_env = None;
    for spelling in setting.alternatives() {
        match spelling {
            Spelling::Key(key) => also_keys.push(frozen(ruby, key))?,
            Spelling::OverridingEnv(env) => override_env = Some(env),
        }
    }
    also_keys.freeze();
    hash.aset(ruby.to_symbol("also_keys"), also_keys)?;
    hash.aset(ruby.to_symbol("override_env"), text(override_env))?;
    hash.aset(
        ruby.to_symbol("role"),
        ruby.to_symbol(role_name(setting.role)),
    )?;
    hash.aset(
        ruby.to_symbol("description"),
        frozen(ruby, setting.description),
    )?;
    hash.freeze();
    Ok(hash)
}

pub fn define(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let rows: RArray = ruby.ary_new();
    for setting in table::SETTINGS {
        rows.push(row(ruby, setting)?)?;
    }
    rows.freeze();
    module.const_set("SETTINGS", rows)?;
    module.define_module_function("setting_value", function!(setting_value, 2))
}
