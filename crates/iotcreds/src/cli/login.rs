//! `iotcreds user login-profile …`: an IAM user's console password (CreateLoginProfile,
//! GetLoginProfile, UpdateLoginProfile, DeleteLoginProfile).
//!
//! The password is read from standard input (`--password-stdin`, the first line without its
//! line ending), never from the command line, where other users of the machine could see it.

use std::io::BufRead as _;

use clap::Subcommand;
use serde_json::Value;

use super::client::{Client, params, push_opt};
use super::output::{Output, emit_message, emit_with, fields};

/// `iotcreds user login-profile`.
#[derive(Subcommand, Debug)]
pub enum LoginProfileCommand {
    /// Give a user a console password (CreateLoginProfile).
    Create {
        /// User name.
        name: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Make the user choose a new password at the next console sign-in.
        #[arg(long)]
        password_reset_required: bool,
    },
    /// Show whether a user has a console password (GetLoginProfile).
    Get {
        /// User name.
        name: String,
    },
    /// Change a user's console password or its reset flag (UpdateLoginProfile).
    Update {
        /// User name.
        name: String,
        /// Read a new password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Require (`true`) or stop requiring (`false`) a new password at the next sign-in.
        #[arg(long, value_name = "BOOL")]
        password_reset_required: Option<bool>,
    },
    /// Remove a user's console password (DeleteLoginProfile).
    Delete {
        /// User name.
        name: String,
    },
}

impl LoginProfileCommand {
    /// The user the command is about.
    pub fn user(&self) -> &str {
        match self {
            Self::Create { name, .. }
            | Self::Get { name }
            | Self::Update { name, .. }
            | Self::Delete { name } => name,
        }
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    Ok(pw.to_owned())
}

/// Run one login-profile command with `client`.
pub async fn run(client: &Client, command: LoginProfileCommand, out: Output) -> anyhow::Result<()> {
    let profile_text = |v: &Value| {
        fields(
            v.get("LoginProfile").unwrap_or(v),
            &["UserName", "CreateDate", "PasswordResetRequired"],
        )
    };
    match command {
        LoginProfileCommand::Create {
            name,
            password_stdin: _,
            password_reset_required,
        } => {
            let password = read_password()?;
            let mut p = params(&[("UserName", &name), ("Password", &password)]);
            if password_reset_required {
                p.push(("PasswordResetRequired".into(), "true".into()));
            }
            let v = client.query("iam", "CreateLoginProfile", &p).await?;
            emit_with(out, &v, profile_text);
        }
        LoginProfileCommand::Get { name } => {
            let v = client
                .query("iam", "GetLoginProfile", &params(&[("UserName", &name)]))
                .await?;
            emit_with(out, &v, profile_text);
        }
        LoginProfileCommand::Update {
            name,
            password_stdin,
            password_reset_required,
        } => {
            if !password_stdin && password_reset_required.is_none() {
                anyhow::bail!(
                    "nothing to update: give --password-stdin or --password-reset-required"
                );
            }
            let mut p = params(&[("UserName", &name)]);
            if password_stdin {
                p.push(("Password".into(), read_password()?));
            }
            push_opt(&mut p, "PasswordResetRequired", password_reset_required);
            let v = client.query("iam", "UpdateLoginProfile", &p).await?;
            emit_message(out, &v, &format!("Login profile of user {name} updated."));
        }
        LoginProfileCommand::Delete { name } => {
            let v = client
                .query("iam", "DeleteLoginProfile", &params(&[("UserName", &name)]))
                .await?;
            emit_message(out, &v, &format!("Login profile of user {name} deleted."));
        }
    }
    Ok(())
}
