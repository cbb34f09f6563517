// Every UI string, in Spanish (default) and English. test/i18n.test.ts checks that both
// dictionaries have the same keys and that every key the sources use exists.
export type Lang = 'es' | 'en';
const LANG_KEY = 'outcall.lang';

const es = {
  'app.title': 'outcall · consola',
  'app.skip': 'Ir al contenido',
  'nav.today': 'Hoy',
  'nav.newCall': 'Llamar',
  'nav.history': 'Historial',
  'nav.stats': 'Estadísticas',
  'nav.campaigns': 'Campañas',
  'nav.reviews': 'Revisión',
  'nav.signOut': 'Salir',
  'nav.language': 'Idioma',
  'lang.es': 'Español',
  'lang.en': 'English',

  'signin.title': 'Iniciar sesión',
  'signin.help': 'Pegue el token (JWT) que le entregó el administrador. Se guarda solo en esta pestaña.',
  'signin.token': 'Token',
  'signin.submit': 'Entrar',
  'signin.checking': 'Comprobando…',
  'signin.notJwt': 'Eso no parece un JWT (tres partes separadas por puntos).',
  'signin.expired': 'El token venció el {when}.',
  'signin.rejected': 'El servidor rechazó el token: {message}',
  'signin.sessionEnded': 'La sesión terminó: {message}. Inicie sesión de nuevo.',
  'signin.as': 'Sesión: {sub}',

  'common.loading': 'Cargando…',
  'common.retry': 'Reintentar',
  'common.none': '—',
  'common.back': 'Volver',
  'common.next': 'Siguiente',
  'common.prev': 'Anterior',
  'common.apply': 'Aplicar',
  'common.clear': 'Limpiar',
  'common.all': 'Todos',
  'common.error': 'Error: {message}',
  'common.live': 'En vivo',
  'common.reconnecting': 'Reconectando…',
  'common.loadMore': 'Cargar más',
  'common.empty': 'No hay nada que mostrar.',
  'common.seconds': '{n} s',
  'common.yes': 'Sí',
  'common.no': 'No',
  'common.open': 'Abrir',
  'common.confirm': 'Confirmar',
  'common.cancel': 'Cancelar',
  'common.pageOf': 'Página {page} de {pages} · {total} en total',

  'col.time': 'Hora',
  'col.date': 'Fecha',
  'col.phone': 'Teléfono',
  'col.patient': 'Paciente',
  'col.status': 'Estado',
  'col.duration': 'Duración',
  'col.cost': 'Costo',
  'col.result': 'Resultado',
  'col.line': 'Línea',
  'col.field': 'Campo',
  'col.message': 'Motivo',
  'col.count': 'Llamadas',

  'status.queued': 'En cola',
  'status.dialing': 'Marcando',
  'status.initiated': 'Iniciada',
  'status.ringing': 'Timbrando',
  'status.in_progress': 'En curso',
  'status.completed': 'Completada',
  'status.failed': 'Fallida',
  'status.no_answer': 'Sin respuesta',
  'status.busy': 'Ocupado',
  'status.ended_manually': 'Colgada por personal',
  'status.canceled': 'Cancelada',

  'today.title': 'Llamadas de hoy',
  'today.subtitle': '{date} · se actualizan solas',
  'today.empty': 'Todavía no hay llamadas hoy.',

  'call.title': 'Nueva llamada',
  'call.phone': 'Teléfono',
  'call.phoneHelp': '3001234567, 573001234567 o +57 300 123 4567',
  'call.patientName': 'Nombre del paciente',
  'call.patientId': 'ID del paciente (opcional)',
  'call.appointmentId': 'ID de la cita (opcional)',
  'call.variables': 'Variables para el agente (opcional)',
  'call.addVariable': 'Añadir variable',
  'call.varName': 'nombre',
  'call.varValue': 'valor',
  'call.remove': 'Quitar',
  'call.submit': 'Llamar',
  'call.submitting': 'Llamando…',
  'call.placed': 'Llamada iniciada ({status}).',
  'call.refused': 'La llamada no se hizo: {message}',
  'call.badPhone': 'Teléfono no válido: {reason}',
  'call.badId': 'Debe ser un entero positivo.',
  'call.badVarName': 'Cada variable necesita un nombre.',

  'detail.title': 'Llamada',
  'detail.conversation': 'Conversación',
  'detail.callId': 'ID de llamada',
  'detail.agent': 'Agente',
  'detail.created': 'Creada',
  'detail.started': 'Contestada',
  'detail.ended': 'Terminó',
  'detail.termination': 'Motivo de fin',
  'detail.credits': 'Créditos',
  'detail.appointment': 'Cita',
  'detail.transcript': 'Transcripción',
  'detail.noTranscript': 'Aún no hay transcripción.',
  'detail.analysis': 'Análisis',
  'detail.noAnalysis': 'Aún no hay análisis.',
  'detail.summary': 'Resumen',
  'detail.successful': 'Resultado del agente',
  'detail.dataCollected': 'Datos recogidos',
  'detail.evaluation': 'Evaluación',
  'detail.errors': 'Errores',
  'detail.audio': 'Grabación',
  'detail.audioLoading': 'Cargando grabación…',
  'detail.noAudio': 'No hay grabación guardada.',
  'detail.endCall': 'Colgar llamada',
  'detail.endConfirm': '¿Colgar ahora? Sí, colgar',
  'detail.ending': 'Colgando…',
  'detail.ended_ok': 'Llamada colgada.',
  'role.agent': 'Agente',
  'role.user': 'Paciente',

  'history.title': 'Historial de llamadas',
  'history.patientId': 'ID del paciente',
  'history.status': 'Estado',
  'history.from': 'Desde',
  'history.to': 'Hasta',

  'stats.title': 'Estadísticas',
  'stats.from': 'Desde',
  'stats.to': 'Hasta',
  'stats.total': 'Llamadas',
  'stats.completed': 'Completadas',
  'stats.failed': 'Fallidas',
  'stats.failedHelp': 'fallida, sin respuesta u ocupado',
  'stats.avgDuration': 'Duración media',
  'stats.totalCost': 'Costo total',
  'stats.pickup': 'Tasa de contestación',
  'stats.pickupHelp': 'completadas ÷ (completadas + fallidas); las llamadas en curso no cuentan',
  'stats.daily': 'Por día',
  'stats.byStatus': 'Por estado',
  'stats.badRange': 'La fecha final no puede ser anterior a la inicial.',
  'stats.chartLabel': 'Llamadas por día: total, completadas y fallidas',

  'campaigns.title': 'Campañas',
  'campaigns.new': 'Nueva campaña',
  'campaigns.empty': 'No hay campañas.',
  'campaigns.progress': '{final} de {total} terminados',
  'campaigns.start': 'Iniciar',
  'campaigns.pause': 'Pausar',
  'campaigns.resume': 'Reanudar',
  'campaigns.cancel': 'Cancelar campaña',
  'campaigns.cancelConfirm': '¿Cancelar? Sí, cancelar',
  'campaigns.eta': 'Fin estimado: {when}',
  'campaigns.reason': 'Motivo: {reason}',
  'campaigns.counters': 'Destinatarios',
  'campaigns.outcomes': 'Resultados',
  'campaigns.attempts': 'Intentos liquidados',
  'campaigns.recipients': 'Destinatarios (primeros)',
  'campaigns.watchReviews': 'Ver cola de revisión',

  'cstate.draft': 'Borrador',
  'cstate.scheduled': 'Programada',
  'cstate.running': 'En marcha',
  'cstate.paused': 'Pausada',
  'cstate.auto_paused': 'Pausada automáticamente',
  'cstate.completed': 'Completada',
  'cstate.canceled': 'Cancelada',
  'cstate.expired': 'Vencida',

  'rstate.total': 'Total',
  'rstate.pending': 'Pendientes',
  'rstate.scheduled': 'Programados',
  'rstate.dialing': 'Marcando',
  'rstate.inCall': 'En llamada',
  'rstate.done': 'Terminados',
  'rstate.exhausted': 'Sin más intentos',
  'rstate.ineligible': 'No elegibles',
  'rstate.optedOut': 'No desean llamadas',
  'rstate.canceled': 'Cancelados',
  'rstate.expired': 'Vencidos',

  'newc.title': 'Nueva campaña desde CSV',
  'newc.name': 'Nombre',
  'newc.purpose': 'Propósito',
  'newc.agent': 'ID del agente (opcional)',
  'newc.template': 'Plantilla de variables (JSON, opcional)',
  'newc.templateHelp': 'Ej.: {"clinic_name": "Clínica Norte", "saludo": "Hola {{patient_name}}"}',
  'newc.badTemplate': 'La plantilla debe ser un objeto JSON con valores de texto, número o booleano.',
  'newc.file': 'Archivo CSV',
  'newc.fileHelp': 'Encabezado con una columna de teléfono (telefono, celular, phone…), paciente o cita; las demás columnas son variables. Separador , ; tabulador o |.',
  'newc.paste': 'o pegue el CSV aquí',
  'newc.startNow': 'Iniciar al crearla',
  'newc.preview': 'Vista previa',
  'newc.summary': '{rows} filas: {valid} válidas, {invalid} con errores',
  'newc.rowErrors': 'Filas con errores (no se enviarán)',
  'newc.serverErrors': 'Filas rechazadas por el servidor',
  'newc.submit': 'Crear campaña con {n} destinatarios',
  'newc.submitting': 'Creando…',
  'newc.created': 'Campaña creada: {added} destinatarios añadidos, {duplicates} repetidos.',
  'newc.open': 'Abrir la campaña',
  'newc.nameRequired': 'La campaña necesita un nombre.',
  'newc.noRows': 'No hay filas válidas para enviar.',
  'newc.moreRows': '… y {n} filas más',

  'purpose.confirmation': 'Confirmación',
  'purpose.reminder': 'Recordatorio',
  'purpose.survey': 'Encuesta',
  'purpose.promotion': 'Promoción',
  'purpose.collection': 'Cobranza',

  'csv.header.empty': 'El archivo está vacío o no tiene encabezado.',
  'csv.header.noPhone': 'El encabezado necesita una columna de teléfono, paciente (patientId) o cita (appointmentId).',
  'csv.header.twoPhones': 'El encabezado tiene más de una columna de teléfono.',
  'csv.err.positive': 'debe ser un entero positivo',
  'csv.err.phoneRequired': 'hace falta el teléfono o el paciente',
  'csv.err.systemPrefix': 'el prefijo system__ está reservado por ElevenLabs',
  'csv.err.missingVar': 'falta: la plantilla usa {{{name}}}',
  'csv.err.quote': 'comillas sin cerrar o fila mal formada',

  'reviews.title': 'Cola de revisión',
  'reviews.help': 'Llamadas cuyo resultado el análisis no pudo decidir.',
  'reviews.empty': 'No hay revisiones pendientes.',
  'reviews.reason': 'Motivo',
  'reviews.decision': 'Decisión',
  'reviews.note': 'Nota (opcional)',
  'reviews.resolve': 'Resolver',
  'reviews.resolved': 'Resuelta: {decision}',
  'reviews.openCall': 'Ver la llamada',
  'reason.unclear': 'Poco claro',
  'reason.low_confidence': 'Baja confianza',
  'decision.confirmed': 'Confirmada',
  'decision.reschedule_requested': 'Pide reprogramar',
  'decision.canceled': 'Cancelada',
  'decision.call_again': 'Llamar de nuevo',
  'decision.no_action': 'Sin acción',

  'err.network': 'No se pudo contactar el servidor ({message}).',
  'notfound.title': 'Página no encontrada',
};

export type Key = keyof typeof es;

const en: Record<Key, string> = {
  'app.title': 'outcall · console',
  'app.skip': 'Skip to content',
  'nav.today': 'Today',
  'nav.newCall': 'Call',
  'nav.history': 'History',
  'nav.stats': 'Statistics',
  'nav.campaigns': 'Campaigns',
  'nav.reviews': 'Review',
  'nav.signOut': 'Sign out',
  'nav.language': 'Language',
  'lang.es': 'Español',
  'lang.en': 'English',

  'signin.title': 'Sign in',
  'signin.help': 'Paste the token (JWT) your administrator gave you. It is kept in this tab only.',
  'signin.token': 'Token',
  'signin.submit': 'Sign in',
  'signin.checking': 'Checking…',
  'signin.notJwt': 'That does not look like a JWT (three parts separated by dots).',
  'signin.expired': 'The token expired on {when}.',
  'signin.rejected': 'The server refused the token: {message}',
  'signin.sessionEnded': 'Your session ended: {message}. Please sign in again.',
  'signin.as': 'Signed in: {sub}',

  'common.loading': 'Loading…',
  'common.retry': 'Retry',
  'common.none': '—',
  'common.back': 'Back',
  'common.next': 'Next',
  'common.prev': 'Previous',
  'common.apply': 'Apply',
  'common.clear': 'Clear',
  'common.all': 'All',
  'common.error': 'Error: {message}',
  'common.live': 'Live',
  'common.reconnecting': 'Reconnecting…',
  'common.loadMore': 'Load more',
  'common.empty': 'Nothing to show.',
  'common.seconds': '{n} s',
  'common.yes': 'Yes',
  'common.no': 'No',
  'common.open': 'Open',
  'common.confirm': 'Confirm',
  'common.cancel': 'Cancel',
  'common.pageOf': 'Page {page} of {pages} · {total} in all',

  'col.time': 'Time',
  'col.date': 'Date',
  'col.phone': 'Phone',
  'col.patient': 'Patient',
  'col.status': 'Status',
  'col.duration': 'Duration',
  'col.cost': 'Cost',
  'col.result': 'Result',
  'col.line': 'Line',
  'col.field': 'Field',
  'col.message': 'Reason',
  'col.count': 'Calls',

  'status.queued': 'Queued',
  'status.dialing': 'Dialing',
  'status.initiated': 'Initiated',
  'status.ringing': 'Ringing',
  'status.in_progress': 'In progress',
  'status.completed': 'Completed',
  'status.failed': 'Failed',
  'status.no_answer': 'No answer',
  'status.busy': 'Busy',
  'status.ended_manually': 'Ended by staff',
  'status.canceled': 'Canceled',

  'today.title': "Today's calls",
  'today.subtitle': '{date} · updated live',
  'today.empty': 'No calls yet today.',

  'call.title': 'New call',
  'call.phone': 'Phone',
  'call.phoneHelp': '3001234567, 573001234567 or +57 300 123 4567',
  'call.patientName': 'Patient name',
  'call.patientId': 'Patient ID (optional)',
  'call.appointmentId': 'Appointment ID (optional)',
  'call.variables': 'Variables for the agent (optional)',
  'call.addVariable': 'Add variable',
  'call.varName': 'name',
  'call.varValue': 'value',
  'call.remove': 'Remove',
  'call.submit': 'Call',
  'call.submitting': 'Calling…',
  'call.placed': 'Call started ({status}).',
  'call.refused': 'The call was not placed: {message}',
  'call.badPhone': 'Invalid phone number: {reason}',
  'call.badId': 'Must be a positive integer.',
  'call.badVarName': 'Every variable needs a name.',

  'detail.title': 'Call',
  'detail.conversation': 'Conversation',
  'detail.callId': 'Call ID',
  'detail.agent': 'Agent',
  'detail.created': 'Created',
  'detail.started': 'Answered',
  'detail.ended': 'Ended',
  'detail.termination': 'Termination reason',
  'detail.credits': 'Credits',
  'detail.appointment': 'Appointment',
  'detail.transcript': 'Transcript',
  'detail.noTranscript': 'No transcript yet.',
  'detail.analysis': 'Analysis',
  'detail.noAnalysis': 'No analysis yet.',
  'detail.summary': 'Summary',
  'detail.successful': "Agent's verdict",
  'detail.dataCollected': 'Data collected',
  'detail.evaluation': 'Evaluation',
  'detail.errors': 'Errors',
  'detail.audio': 'Recording',
  'detail.audioLoading': 'Loading recording…',
  'detail.noAudio': 'No recording stored.',
  'detail.endCall': 'End call',
  'detail.endConfirm': 'Hang up now? Yes, hang up',
  'detail.ending': 'Hanging up…',
  'detail.ended_ok': 'Call ended.',
  'role.agent': 'Agent',
  'role.user': 'Patient',

  'history.title': 'Call history',
  'history.patientId': 'Patient ID',
  'history.status': 'Status',
  'history.from': 'From',
  'history.to': 'To',

  'stats.title': 'Statistics',
  'stats.from': 'From',
  'stats.to': 'To',
  'stats.total': 'Calls',
  'stats.completed': 'Completed',
  'stats.failed': 'Failed',
  'stats.failedHelp': 'failed, no answer or busy',
  'stats.avgDuration': 'Average duration',
  'stats.totalCost': 'Total cost',
  'stats.pickup': 'Pick-up rate',
  'stats.pickupHelp': 'completed ÷ (completed + failed); calls in progress do not count',
  'stats.daily': 'By day',
  'stats.byStatus': 'By status',
  'stats.badRange': 'The end date cannot be before the start date.',
  'stats.chartLabel': 'Calls per day: total, completed and failed',

  'campaigns.title': 'Campaigns',
  'campaigns.new': 'New campaign',
  'campaigns.empty': 'No campaigns.',
  'campaigns.progress': '{final} of {total} finished',
  'campaigns.start': 'Start',
  'campaigns.pause': 'Pause',
  'campaigns.resume': 'Resume',
  'campaigns.cancel': 'Cancel campaign',
  'campaigns.cancelConfirm': 'Cancel it? Yes, cancel',
  'campaigns.eta': 'Estimated end: {when}',
  'campaigns.reason': 'Reason: {reason}',
  'campaigns.counters': 'Recipients',
  'campaigns.outcomes': 'Outcomes',
  'campaigns.attempts': 'Settled attempts',
  'campaigns.recipients': 'Recipients (first ones)',
  'campaigns.watchReviews': 'Open the review queue',

  'cstate.draft': 'Draft',
  'cstate.scheduled': 'Scheduled',
  'cstate.running': 'Running',
  'cstate.paused': 'Paused',
  'cstate.auto_paused': 'Auto-paused',
  'cstate.completed': 'Completed',
  'cstate.canceled': 'Canceled',
  'cstate.expired': 'Expired',

  'rstate.total': 'Total',
  'rstate.pending': 'Pending',
  'rstate.scheduled': 'Scheduled',
  'rstate.dialing': 'Dialing',
  'rstate.inCall': 'In call',
  'rstate.done': 'Done',
  'rstate.exhausted': 'Exhausted',
  'rstate.ineligible': 'Ineligible',
  'rstate.optedOut': 'Opted out',
  'rstate.canceled': 'Canceled',
  'rstate.expired': 'Expired',

  'newc.title': 'New campaign from a CSV',
  'newc.name': 'Name',
  'newc.purpose': 'Purpose',
  'newc.agent': 'Agent ID (optional)',
  'newc.template': 'Variables template (JSON, optional)',
  'newc.templateHelp': 'E.g. {"clinic_name": "Clínica Norte", "greeting": "Hola {{patient_name}}"}',
  'newc.badTemplate': 'The template must be a JSON object of string, number or boolean values.',
  'newc.file': 'CSV file',
  'newc.fileHelp': 'A header with a phone column (telefono, celular, phone…), a patient or an appointment column; other columns are variables. Delimiter , ; tab or |.',
  'newc.paste': 'or paste the CSV here',
  'newc.startNow': 'Start once created',
  'newc.preview': 'Preview',
  'newc.summary': '{rows} rows: {valid} valid, {invalid} with errors',
  'newc.rowErrors': 'Rows with errors (will not be sent)',
  'newc.serverErrors': 'Rows the server refused',
  'newc.submit': 'Create campaign with {n} recipients',
  'newc.submitting': 'Creating…',
  'newc.created': 'Campaign created: {added} recipients added, {duplicates} duplicates.',
  'newc.open': 'Open the campaign',
  'newc.nameRequired': 'The campaign needs a name.',
  'newc.noRows': 'There are no valid rows to send.',
  'newc.moreRows': '… and {n} more rows',

  'purpose.confirmation': 'Confirmation',
  'purpose.reminder': 'Reminder',
  'purpose.survey': 'Survey',
  'purpose.promotion': 'Promotion',
  'purpose.collection': 'Collection',

  'csv.header.empty': 'The file is empty or has no header.',
  'csv.header.noPhone': 'The header needs a phone, patientId or appointmentId column.',
  'csv.header.twoPhones': 'The header names more than one phone column.',
  'csv.err.positive': 'must be a positive integer',
  'csv.err.phoneRequired': 'phoneNumber or patientId is required',
  'csv.err.systemPrefix': 'the system__ prefix is reserved by ElevenLabs',
  'csv.err.missingVar': 'missing: the template uses {{{name}}}',
  'csv.err.quote': 'unclosed quote or malformed row',

  'reviews.title': 'Review queue',
  'reviews.help': 'Calls whose outcome the analysis could not settle.',
  'reviews.empty': 'No open reviews.',
  'reviews.reason': 'Reason',
  'reviews.decision': 'Decision',
  'reviews.note': 'Note (optional)',
  'reviews.resolve': 'Resolve',
  'reviews.resolved': 'Resolved: {decision}',
  'reviews.openCall': 'Open the call',
  'reason.unclear': 'Unclear',
  'reason.low_confidence': 'Low confidence',
  'decision.confirmed': 'Confirmed',
  'decision.reschedule_requested': 'Wants to reschedule',
  'decision.canceled': 'Canceled',
  'decision.call_again': 'Call again',
  'decision.no_action': 'No action',

  'err.network': 'Could not reach the server ({message}).',
  'notfound.title': 'Page not found',
};

export const dictionaries: Record<Lang, Record<string, string>> = { es, en };

let current: Lang = 'es';

export function initialLang(storage: Pick<Storage, 'getItem'> | null = safeStorage()): Lang {
  const v = storage?.getItem(LANG_KEY);
  return v === 'en' || v === 'es' ? v : 'es';
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export function setLang(l: Lang) {
  current = l;
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    /* private mode */
  }
  if (typeof document !== 'undefined') document.documentElement.lang = l;
}

export function getLang(): Lang {
  return current;
}

export function useLangInit() {
  current = initialLang();
  if (typeof document !== 'undefined') document.documentElement.lang = current;
}

/** The string for key in the current language, {name} placeholders filled. */
export function t(key: Key, params?: Record<string, string | number>): string {
  return fill(dictionaries[current][key] ?? dictionaries.es[key] ?? key, params);
}

/** For keys built at run time (status.<state>): falls back to the raw value when unknown. */
export function tv(prefix: string, value: string): string {
  const s = dictionaries[current][`${prefix}.${value}`];
  return s ?? value;
}

export function fill(s: string, params?: Record<string, string | number>): string {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

export function formatDateTime(iso?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current === 'es' ? 'es-CO' : 'en-US', {
    timeZone: 'America/Bogota',
    dateStyle: 'short',
    timeStyle: 'medium',
  }).format(d);
}

export function formatTime(iso?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current === 'es' ? 'es-CO' : 'en-US', {
    timeZone: 'America/Bogota',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(d);
}

export function formatNumber(n: number, digits = 0): string {
  return new Intl.NumberFormat(current === 'es' ? 'es-CO' : 'en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(n || 0);
}

export function formatUsd(n: number): string {
  return new Intl.NumberFormat(current === 'es' ? 'es-CO' : 'en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 4,
  }).format(n || 0);
}
